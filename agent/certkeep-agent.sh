#!/bin/sh
# certkeep-agent: installs the certificates Certkeep serves on this server.
#
#   certkeep-agent run [-c FILE] [--dry-run] [--force] [--quiet]
#
# For each [block] of the config (default /etc/certkeep/agent.conf) it downloads the
# certificate (and its key, or a PFX of both), sending the ETag of the last download so that nothing is done while it is
# unchanged; checks it (the key belongs to the certificate, its names cover expect-names, it is
# valid now); writes the files atomically (a temporary file beside each, synced, renamed; key
# files mode 0600, the owner kept); runs the reload command when a file changed and puts the
# previous files back if the reload fails; with verify, checks over TLS that the server now
# presents the new serial; and reports the outcome to Certkeep (POST /api/agent/report).
#
# Needs only curl, openssl and POSIX utilities. Served by Certkeep at /agent/certkeep-agent.sh;
# its SHA-256 is shown on each certificate's page.
#
# Exit status: 0 every block installed or unchanged; 1 a block failed (its installed files are
# untouched or restored); 2 bad usage or config.

set -u
set -f
umask 077

VERSION=1.1.0
CONFIG=/etc/certkeep/agent.conf
STATE_DIR=${CERTKEEP_AGENT_STATE_DIR:-/var/lib/certkeep-agent}
# The TLS check after a reload: a server may take a moment to switch to the new certificate.
VERIFY_TRIES=${CERTKEEP_AGENT_VERIFY_TRIES:-10}
DRY_RUN=0
FORCE=0
QUIET=0
# A certificate chain or a key is a few kilobytes: anything above this is not one.
MAX_BYTES=1048576
TAB=$(printf '\t')
KINDS='fullchain cert chain key pfx'
WORK=
LOCKED=

say() {
  [ "$QUIET" = 1 ] || printf '%s\n' "$*"
}

complain() {
  printf '%s\n' "$*" >&2
}

usage() {
  cat <<'EOF'
usage: certkeep-agent run [-c FILE] [--dry-run] [--force] [--quiet]
       certkeep-agent version

  run          install or update every block of the config
  -c FILE      the config (default /etc/certkeep/agent.conf)
  --dry-run    download and check, say what would change; change nothing
  --force      download again even if unchanged, rewrite the files and reload
  --quiet      print only problems

Config: INI blocks, one per certificate:
  [www]
  url = https://certkeep.example.com
  certificate = www
  certificate-api-key = cka_...
  key-api-key = cka_...
  fullchain = /etc/nginx/tls/www.pem
  key = /etc/nginx/tls/www.key
  reload = nginx -s reload
  verify = 127.0.0.1:443
  expect-names = www.example.com example.com
Other keys: cert, chain (leaf and chain in files of their own), pfx (key, leaf and chain in
one PKCS#12 file) with pfx-password-file (a file whose first line is its password), key-name
(the key's name in Certkeep when it is not the certificate's), owner (user or user:group of
the files), mode (of certificate files, default 0644; key and PFX files are 0600).

The state (ETags, reports not yet delivered) is kept in $CERTKEEP_AGENT_STATE_DIR
(default /var/lib/certkeep-agent).

Exit status: 0 every block installed or unchanged; 1 a block failed (its installed
files untouched or restored); 2 bad usage or config.
EOF
}

usage_error() {
  complain "certkeep-agent: $1"
  complain "usage: certkeep-agent run [-c FILE] [--dry-run] [--force] [--quiet]"
  exit 2
}

# Run on exit (trap): the downloads go, the lock is released.
# shellcheck disable=SC2317
cleanup() {
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  if [ -n "$LOCKED" ]; then rm -rf "$STATE_DIR/lock"; fi
}

# ---- config ------------------------------------------------------------------------------------

# Reads the INI file and prints it as lines "B<TAB>block" and "K<TAB>block<TAB>key<TAB>value",
# or "E<TAB>message" for each mistake (with the file and line).
parse_config() {
  awk -v file="$1" '
    function problem(m) { printf "E\t%s:%d: %s\n", file, NR, m; bad = 1 }
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    BEGIN {
      n = split("url certificate certificate-api-key key-api-key key-name fullchain cert chain key pfx pfx-password-file owner mode reload verify expect-names", k, " ")
      for (i = 1; i <= n; i++) known[k[i]] = 1
    }
    {
      line = $0
      sub(/\r$/, "", line)
      line = trim(line)
      if (line == "" || line ~ /^[#;]/) next
      if (line ~ /[\001-\010\013-\037\177]/) { problem("control characters are not allowed"); next }
      if (line ~ /^\[/) {
        if (line !~ /^\[[A-Za-z0-9][A-Za-z0-9._-]*\]$/) { problem("a block name is [letters, digits, \".\", \"_\" and \"-\"]: " line); block = ""; skip = 1; next }
        block = substr(line, 2, length(line) - 2); skip = 0
        if (block in seen) problem("block [" block "] appears twice")
        seen[block] = 1; blocks++
        print "B\t" block
        next
      }
      eq = index(line, "=")
      if (eq == 0) { problem("expected \"key = value\": " line); next }
      key = trim(substr(line, 1, eq - 1)); value = trim(substr(line, eq + 1))
      if (skip) next
      if (block == "") { problem("\"" key "\" comes before the first [block]"); next }
      if (!(key in known)) { problem("unknown key \"" key "\" in [" block "]"); next }
      if ((block, key) in have) { problem("\"" key "\" appears twice in [" block "]"); next }
      have[block, key] = 1
      if (value == "") { problem("\"" key "\" in [" block "] has no value"); next }
      print "K\t" block "\t" key "\t" value
    }
    END { if (!bad && !blocks) printf "E\t%s: no [block] in the config\n", file }
  ' "$1"
}

# Sets the c_* variables from block $1 of the parsed config.
load_block() {
  c_name=$1 c_url='' c_certificate='' c_certificate_api_key='' c_key_api_key='' c_key_name='' c_fullchain='' c_cert=''
  c_chain='' c_key='' c_pfx='' c_pfx_password_file='' c_owner='' c_mode='' c_reload='' c_verify='' c_expect_names=''
  while IFS="$TAB" read -r l_kind l_block l_key l_value; do
    if [ "$l_kind" != K ] || [ "$l_block" != "$1" ]; then continue; fi
    case $l_key in
      url) c_url=${l_value%/} ;;
      certificate) c_certificate=$l_value ;;
      certificate-api-key) c_certificate_api_key=$l_value ;;
      key-api-key) c_key_api_key=$l_value ;;
      key-name) c_key_name=$l_value ;;
      fullchain) c_fullchain=$l_value ;;
      cert) c_cert=$l_value ;;
      chain) c_chain=$l_value ;;
      key) c_key=$l_value ;;
      pfx) c_pfx=$l_value ;;
      pfx-password-file) c_pfx_password_file=$l_value ;;
      owner) c_owner=$l_value ;;
      mode) c_mode=$l_value ;;
      reload) c_reload=$l_value ;;
      verify) c_verify=$l_value ;;
      expect-names) c_expect_names=$(printf '%s\n' "$l_value" | tr ',' ' ' | tr '[:upper:]' '[:lower:]') ;;
    esac
  done <"$WORK/config"
  [ -n "$c_key_name" ] || c_key_name=$c_certificate
}

# One mistake in the loaded block.
cb() {
  complain "$CONFIG: [$c_name] $1"
  cb_ok=1
}

# has_other_than CHARS TEXT: whether TEXT has a character outside the bracket expression CHARS.
has_other_than() {
  printf '%s' "$2" | grep -q "[^$1]"
}

# Prints one line per mistake in the loaded block; returns 1 if there was one.
check_block() {
  cb_ok=0
  case $c_url in
    '') cb 'url is missing (the address of Certkeep, e.g. https://certkeep.example.com)' ;;
    https://*) ;;
    http://127.0.0.1 | http://127.0.0.1[:/]* | http://localhost | http://localhost[:/]* | 'http://[::1]' | 'http://[::1]'[:/]*) ;;
    http://*) cb "url: use https:// (plain http:// only to this machine: API keys must not cross a network in clear)" ;;
    *) cb "url: expected https://host[:port], got \"$c_url\"" ;;
  esac
  if has_other_than '][A-Za-z0-9.:/_~%@-' "$c_url"; then cb "url: \"$c_url\" has characters a URL here cannot have"; fi
  check_name certificate "$c_certificate"
  check_name key-name "$c_key_name"
  check_api_key certificate-api-key "$c_certificate_api_key"
  [ -z "$c_key_api_key" ] || check_api_key key-api-key "$c_key_api_key"
  if [ -z "$c_fullchain" ] && [ -z "$c_cert" ] && [ -z "$c_pfx" ]; then cb 'nothing to install: give fullchain (certificate and chain in one file), cert or pfx'; fi
  if [ -n "$c_key" ] && [ -z "$c_key_api_key" ]; then cb 'key needs key-api-key (the API key that downloads the private key)'; fi
  if [ -z "$c_key" ] && [ -n "$c_key_api_key" ]; then cb 'key-api-key is given but key (where to write the private key) is not'; fi
  if [ -n "$c_pfx" ] && [ -z "$c_pfx_password_file" ]; then cb 'pfx needs pfx-password-file (a file whose first line is the password the PFX is encrypted with)'; fi
  if [ -z "$c_pfx" ] && [ -n "$c_pfx_password_file" ]; then cb 'pfx-password-file is given but pfx (where to write the PFX) is not'; fi
  [ -z "$c_pfx_password_file" ] || check_password_file "$c_pfx_password_file"
  for cb_kind in $KINDS; do
    cb_path=$(target_of "$cb_kind")
    case $cb_path in '' | /*) ;; *) cb "$cb_kind: \"$cb_path\" is not an absolute path" ;; esac
  done
  case $c_owner in '') ;; *[!A-Za-z0-9._:-]* | *:*:* | :* | *:) cb "owner: expected user or user:group, got \"$c_owner\"" ;; esac
  case $c_mode in '') ;; [0-7][0-7][0-7] | 0[0-7][0-7][0-7]) ;; *) cb "mode: expected an octal mode such as 0644, got \"$c_mode\"" ;; esac
  if [ -n "$c_verify" ]; then
    cb_port=${c_verify##*:}
    case $c_verify:$cb_port in
      *:*:'' | *:*:*[!0-9]* | :*) cb "verify: expected host:port (e.g. 127.0.0.1:443), got \"$c_verify\"" ;;
      *:*:*) has_other_than '][A-Za-z0-9.:_-' "$c_verify" && cb "verify: expected host:port (e.g. 127.0.0.1:443), got \"$c_verify\"" ;;
      *) cb "verify: expected host:port (e.g. 127.0.0.1:443), got \"$c_verify\"" ;;
    esac
  fi
  for cb_n in $c_expect_names; do
    case $cb_n in *[!a-z0-9.*_-]*) cb "expect-names: \"$cb_n\" is not a DNS name" ;; esac
  done
  return $cb_ok
}

check_name() {
  case $2 in
    '') cb "$1 is missing" ;;
    [A-Za-z0-9]*) case $2 in *[!A-Za-z0-9._-]*) cb "$1: \"$2\" is not a Certkeep name (letters, digits, \".\", \"_\", \"-\")" ;; esac ;;
    *) cb "$1: \"$2\" is not a Certkeep name (letters, digits, \".\", \"_\", \"-\")" ;;
  esac
}

# The PFX password file: absolute, readable, its first line the password (openssl's file: reads
# the same line), no control characters; a warning when other users may read it.
check_password_file() {
  case $1 in /*) ;; *)
    cb "pfx-password-file: \"$1\" is not an absolute path"
    return
    ;;
  esac
  if [ ! -f "$1" ] || [ ! -r "$1" ]; then
    cb "pfx-password-file: cannot read $1"
    return
  fi
  cpf_pw=$(head -n 1 "$1")
  case $cpf_pw in
    *[![:space:]]*) ;;
    *)
      cb "pfx-password-file: the first line of $1 is empty (it is the PFX password)"
      return
      ;;
  esac
  if printf '%s' "$cpf_pw" | LC_ALL=C grep -q '[[:cntrl:]]'; then
    cb "pfx-password-file: the first line of $1 has control characters (a Windows line ending?)"
    return
  fi
  # shellcheck disable=SC2012 # the permission bits, portably
  case $(ls -ld "$1" | cut -c5-10) in
    *r*) complain "certkeep-agent: warning: $1 holds the PFX password but other users may read it (chmod 600 $1)" ;;
  esac
}

check_api_key() {
  case $2 in
    '') cb "$1 is missing" ;;
    *[!A-Za-z0-9_-]*) cb "$1 does not look like an API key (letters, digits, \"_\" and \"-\")" ;;
  esac
}

target_of() {
  case $1 in
    fullchain) printf '%s' "$c_fullchain" ;;
    cert) printf '%s' "$c_cert" ;;
    chain) printf '%s' "$c_chain" ;;
    key) printf '%s' "$c_key" ;;
    pfx) printf '%s' "$c_pfx" ;;
  esac
}

# ---- downloads ---------------------------------------------------------------------------------

# fetch URL OUT API_KEY [ETAG]: GET with the API key (given to curl on stdin, never on its command
# line), a time limit and no redirects. With FETCH_FORM set (curl config lines), a POST of that
# form instead, given on stdin too (the PFX password). Sets HTTP_CODE; returns curl's status (its
# message is in $WORK/curl.err).
fetch() {
  f_url=$1 f_out=$2 f_apikey=$3
  rm -f "$f_out" "$WORK/headers" "$WORK/curl.err"
  if [ -n "${4:-}" ]; then set -- -H "If-None-Match: $4"; else set --; fi
  HTTP_CODE=$({
    printf 'header = "apikey: %s"\n' "$f_apikey"
    [ -z "${FETCH_FORM:-}" ] || printf '%s\n' "$FETCH_FORM"
  } |
    curl --silent --show-error --config - --proto '=https,http' --connect-timeout 10 --max-time 60 \
      --max-filesize "$MAX_BYTES" --dump-header "$WORK/headers" --output "$f_out" --write-out '%{http_code}' \
      "$@" "$f_url" 2>"$WORK/curl.err")
}

curl_error() {
  tr '\n' ' ' <"$WORK/curl.err" | sed 's/^curl: ([0-9]*) //; s/ *$//'
}

# The `detail` of a problem+json answer, for messages.
problem_detail() {
  [ -s "$1" ] || return 0
  sed -n 's/.*"detail" *: *"\([^"]*\)".*/\1/p' "$1" | head -n 1
}

etag_of_headers() {
  sed -n 's/^[Ee][Tt][Aa][Gg]:[ 	]*//p' "$WORK/headers" | tr -d '\r' | tail -n 1
}

# Explains an answer that is not 200 (or a curl failure) for the download of $1 (a word).
explain_download() {
  ed_what=$1 ed_status=$2 ed_body=$3
  if [ "$ed_status" -ne 0 ]; then
    case $ed_status in
      6 | 7 | 28 | 35 | 60) printf 'cannot reach Certkeep at %s (%s)' "$c_url" "$(curl_error)" ;;
      18 | 52 | 56 | 92) printf 'the %s download broke off (%s)' "$ed_what" "$(curl_error)" ;;
      63) printf 'the %s download is larger than %s bytes: not a %s' "$ed_what" "$MAX_BYTES" "$ed_what" ;;
      *) printf 'the %s download failed (%s)' "$ed_what" "$(curl_error)" ;;
    esac
    return
  fi
  ed_detail=$(problem_detail "$ed_body")
  case $HTTP_CODE in
    401) printf 'Certkeep refused the %s API key (401): check it in %s' "$ed_what" "$CONFIG" ;;
    403) printf 'Certkeep refused the %s download (403: %s)' "$ed_what" "${ed_detail:-forbidden}" ;;
    404) printf 'Certkeep has no %s to give (404: %s)' "$ed_what" "${ed_detail:-not found}" ;;
    *) printf 'Certkeep answered the %s download with HTTP %s%s' "$ed_what" "$HTTP_CODE" "${ed_detail:+ ($ed_detail)}" ;;
  esac
}

# ---- checks ------------------------------------------------------------------------------------

# Splits a PEM chain into its first certificate ($2) and the rest ($3); fails unless every block
# is complete.
split_chain() {
  awk -v leaf="$2" -v rest="$3" '
    /^-----BEGIN CERTIFICATE-----/ { if (inside) bad = 1; inside = 1; n++ }
    inside { if (n == 1) print > leaf; else print > rest }
    /^-----END CERTIFICATE-----/ { if (!inside) bad = 1; inside = 0 }
    END { if (bad || inside || n == 0) exit 1 }
  ' "$1" && : >>"$3"
}

# notBefore=Jan  5 10:00:00 2026 GMT → 20260105100000 (UTC), comparable with date -u +%Y%m%d%H%M%S.
stamp_of() {
  awk '{
    sub(/^[^=]*=/, "")
    m = index("JanFebMarAprMayJunJulAugSepOctNovDec", $1)
    if (m == 0 || split($3, t, ":") != 3) exit 1
    printf "%04d%02d%02d%02d%02d%02d\n", $4, (m + 2) / 3, $2, t[1], t[2], t[3]
  }'
}

readable_stamp() {
  printf '%s\n' "$1" | sed 's/^\(....\)\(..\)\(..\)\(..\)\(..\).*/\1-\2-\3 \4:\5 UTC/'
}

# The certificate's DNS names, lower case, one a line.
names_of() {
  openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tr ',' '\n' | sed -n 's/^[ 	]*DNS://p' | tr '[:upper:]' '[:lower:]'
}

# covered NAME NAMES: whether NAMES (one a line) cover NAME, wildcards for one label.
covered() {
  for cv_san in $2; do
    [ "$cv_san" = "$1" ] && return 0
    case $cv_san in
      '*.'*) case $1 in *.*) [ "${1#*.}" = "${cv_san#\*.}" ] && return 0 ;; esac ;;
    esac
  done
  return 1
}

# The form that asks for the PFX, as curl config lines: the password is the first line of the
# password file, quoted for curl's config and URL-encoded by curl.
pfx_form() {
  pf_pw=$(head -n 1 "$c_pfx_password_file" | sed 's/[\\"]/\\&/g')
  printf 'data = "format=pfx"\ndata-urlencode = "pfxPassword=%s"\n' "$pf_pw"
}

# The serial of the certificate in PFX file $1, opened with the password file; empty when it
# cannot be opened.
pfx_serial() {
  openssl pkcs12 -in "$1" -passin "file:$c_pfx_password_file" -nokeys -clcerts 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//' | tr '[:upper:]' '[:lower:]' | sed 's/^0*\(.\)/\1/'
}

# The public key of the private key in PFX file $1 (the private key passes through a pipe only).
pfx_pubkey() {
  openssl pkcs12 -in "$1" -passin "file:$c_pfx_password_file" -nocerts -nodes 2>/dev/null | openssl pkey -pubout 2>/dev/null
}

serial_of() {
  openssl x509 -in "$1" -noout -serial 2>/dev/null | sed 's/^serial=//' | tr '[:upper:]' '[:lower:]' | sed 's/^0*\(.\)/\1/'
}

# The serial the server at host:port presents to SNI name $2 (empty when none).
presented_serial() {
  ps_sni=
  [ -n "$2" ] && ps_sni="-servername $2"
  # shellcheck disable=SC2086 # ps_sni is two words or none
  if command -v timeout >/dev/null 2>&1; then
    timeout 10 openssl s_client -connect "$1" $ps_sni </dev/null 2>/dev/null
  else
    openssl s_client -connect "$1" $ps_sni </dev/null 2>/dev/null
  fi | openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//' | tr '[:upper:]' '[:lower:]' | sed 's/^0*\(.\)/\1/'
}

# ---- files -------------------------------------------------------------------------------------

# "uid:gid" of an existing file.
owner_of() {
  # shellcheck disable=SC2012 # ls -n is the portable way to read a file's numeric owner
  ls -ldn "$1" | awk '{ print $3 ":" $4 }'
}

sync_file() {
  sync "$1" 2>/dev/null || sync
}

# Writes SRC to a temporary file beside DEST with MODE and the owner; prints its path.
stage_file() {
  sf_src=$1 sf_dest=$2 sf_mode=$3
  sf_tmp="$(dirname "$sf_dest")/.$(basename "$sf_dest").certkeep-new.$$"
  rm -f "$sf_tmp"
  (set -C && cat "$sf_src" >"$sf_tmp") 2>/dev/null || {
    complain "$c_name: cannot write in $(dirname "$sf_dest")"
    rm -f "$sf_tmp"
    return 1
  }
  if [ -n "$c_owner" ]; then
    sf_owner=$c_owner
  elif [ -e "$sf_dest" ]; then
    sf_owner=$(owner_of "$sf_dest")
  else
    sf_owner=
  fi
  if [ -n "$sf_owner" ] && ! chown "$sf_owner" "$sf_tmp" 2>/dev/null; then
    complain "$c_name: cannot give $sf_dest to owner $sf_owner"
    rm -f "$sf_tmp"
    return 1
  fi
  chmod "$sf_mode" "$sf_tmp" && sync_file "$sf_tmp" && printf '%s\n' "$sf_tmp"
}

# Installs every changed file: each staged beside its target, then all renamed. Prints nothing;
# on failure everything renamed so far is put back.
install_files() {
  : >"$WORK/staged"
  for if_kind in $CHANGED; do
    if_dest=$(target_of "$if_kind")
    if_mode=${c_mode:-0644}
    case $if_kind in key | pfx) if_mode=0600 ;; esac
    if [ -e "$if_dest" ]; then
      cp -p "$if_dest" "$WORK/backup.$if_kind" || return 1
    fi
    if_tmp=$(stage_file "$WORK/new.$if_kind" "$if_dest" "$if_mode") || {
      discard_staged
      return 1
    }
    printf '%s\t%s\n' "$if_kind" "$if_tmp" >>"$WORK/staged"
  done
  : >"$WORK/renamed"
  while IFS="$TAB" read -r if_kind if_tmp; do
    if_dest=$(target_of "$if_kind")
    if mv -f "$if_tmp" "$if_dest"; then
      printf '%s\n' "$if_kind" >>"$WORK/renamed"
    else
      complain "$c_name: cannot replace $if_dest"
      discard_staged
      restore_files "$(cat "$WORK/renamed")"
      return 1
    fi
  done <"$WORK/staged"
  sync_dirs
}

discard_staged() {
  while IFS="$TAB" read -r _ ds_tmp; do
    rm -f "$ds_tmp"
  done <"$WORK/staged"
}

sync_dirs() {
  for sd_kind in $CHANGED; do
    sync_file "$(dirname "$(target_of "$sd_kind")")"
  done
}

# Puts back the previous version of each file of kinds $1 (removes files that did not exist).
restore_files() {
  rf_ok=0
  for rf_kind in $1; do
    rf_dest=$(target_of "$rf_kind")
    if [ -e "$WORK/backup.$rf_kind" ]; then
      rf_tmp="$(dirname "$rf_dest")/.$(basename "$rf_dest").certkeep-old.$$"
      if cp -p "$WORK/backup.$rf_kind" "$rf_tmp" && sync_file "$rf_tmp" && mv -f "$rf_tmp" "$rf_dest"; then :; else
        complain "$c_name: COULD NOT PUT BACK $rf_dest (the previous version is lost)"
        rf_ok=1
      fi
    else
      rm -f "$rf_dest"
    fi
  done
  sync_dirs
  return $rf_ok
}

# Runs the reload command: its words split on spaces, no shell. Output in $WORK/reload.out.
run_reload() {
  # shellcheck disable=SC2086 # word splitting on spaces is the contract; globbing is off (set -f)
  (
    IFS=' '
    if command -v timeout >/dev/null 2>&1; then
      exec timeout 120 $c_reload
    else
      exec $c_reload
    fi
  ) >"$WORK/reload.out" 2>&1 </dev/null
}

reload_output() {
  tail -n 3 "$WORK/reload.out" | tr '\n' ' ' | sed 's/ *$//'
}

# ---- the report ----------------------------------------------------------------------------------

json_string() {
  printf '"%s"' "$(printf '%s' "$1" | tr -cd 'A-Za-z0-9._-')"
}

# write_report SERIAL INSTALLED RELOAD VERIFIED: the body of POST /api/agent/report, kept in the
# state dir until Certkeep has it.
write_report() {
  wr_host=$(uname -n 2>/dev/null || echo unknown)
  printf '{"certificate":%s,"serial":%s,"installed":%s,"reload":%s,"verified":%s,"host":%s,"agentVersion":%s}\n' \
    "$(json_string "$c_certificate")" "$(json_string "$1")" "$2" "$(json_string "$3")" "$4" \
    "$(json_string "$wr_host")" "$(json_string "$VERSION")" >"$STATE_DIR/$c_name.report"
}

# Sends the pending report of this block, if any. A failure is a warning: the next run tries again.
send_report() {
  [ -s "$STATE_DIR/$c_name.report" ] || return 0
  rm -f "$WORK/report.answer" "$WORK/curl.err"
  sr_code=$(printf 'header = "apikey: %s"\n' "$c_certificate_api_key" |
    curl --silent --show-error --config - --proto '=https,http' --connect-timeout 10 --max-time 30 \
      -H 'content-type: application/json' --data-binary @"$STATE_DIR/$c_name.report" \
      --output "$WORK/report.answer" --write-out '%{http_code}' "$c_url/api/agent/report" 2>"$WORK/curl.err")
  sr_status=$?
  if [ $sr_status -eq 0 ] && [ "$sr_code" = 204 ]; then
    rm -f "$STATE_DIR/$c_name.report"
    return 0
  fi
  if [ $sr_status -ne 0 ]; then
    complain "$c_name: warning: could not report to Certkeep ($(curl_error)); the next run tries again"
  else
    sr_detail=$(problem_detail "$WORK/report.answer")
    complain "$c_name: warning: Certkeep did not take the report (HTTP $sr_code${sr_detail:+: $sr_detail}); the next run tries again"
  fi
}

# ---- one block -----------------------------------------------------------------------------------

# Fails the block: one line, the report of what happened (when the serial is known), status 1.
block_failed() {
  complain "$c_name: $1"
  if [ "$DRY_RUN" = 0 ] && [ -n "${NEW_SERIAL:-}" ]; then
    write_report "$NEW_SERIAL" false "${2:-skipped}" "${3:-null}"
    send_report
  fi
  return 1
}

run_block() {
  load_block "$1"
  NEW_SERIAL=
  CHANGED=
  # What an earlier block left here must not be taken for this block's (globbing is off: by name).
  for rb_kind in $KINDS; do rm -f "$WORK/new.$rb_kind" "$WORK/backup.$rb_kind"; done
  rm -f "$WORK/download.pem" "$WORK/key.pem" "$WORK/pfx.b64"
  rb_etag_file=$STATE_DIR/$c_name.etag
  rb_etag=
  if [ "$FORCE" = 0 ] && [ -s "$rb_etag_file" ]; then
    rb_etag=$(head -n 1 "$rb_etag_file")
    # Only an ETag Certkeep made is sent back; and none while a file to install is missing.
    case $rb_etag in '"'*'"' | 'W/"'*'"') ;; *) rb_etag= ;; esac
    case $rb_etag in *[!A-Za-z0-9_\"/=+-]*) rb_etag= ;; esac
    for rb_kind in $KINDS; do
      rb_path=$(target_of "$rb_kind")
      if [ -n "$rb_path" ] && [ ! -e "$rb_path" ]; then rb_etag=; fi
    done
  fi

  fetch "$c_url/api/certificate/$c_certificate" "$WORK/download.pem" "$c_certificate_api_key" "$rb_etag"
  rb_status=$?
  if [ $rb_status -eq 0 ] && [ "$HTTP_CODE" = 304 ]; then
    say "$c_name: unchanged${rb_etag:+ (serial $(cat "$STATE_DIR/$c_name.serial" 2>/dev/null || echo '?'))}"
    [ "$DRY_RUN" = 1 ] || send_report
    return 0
  fi
  if [ $rb_status -ne 0 ] || [ "$HTTP_CODE" != 200 ]; then
    block_failed "$(explain_download certificate $rb_status "$WORK/download.pem"); nothing installed"
    return 1
  fi
  rb_new_etag=$(etag_of_headers)
  if [ "$(wc -c <"$WORK/download.pem")" -gt "$MAX_BYTES" ]; then
    block_failed "the certificate download is larger than $MAX_BYTES bytes: not a certificate; nothing installed"
    return 1
  fi
  if ! split_chain "$WORK/download.pem" "$WORK/new.cert" "$WORK/new.chain" || ! openssl x509 -in "$WORK/new.cert" -noout 2>/dev/null; then
    block_failed "the certificate download is incomplete or damaged (no complete PEM certificate); nothing installed"
    return 1
  fi
  cp "$WORK/download.pem" "$WORK/new.fullchain"
  NEW_SERIAL=$(serial_of "$WORK/new.cert")

  # Valid now: not before notBefore, not after notAfter.
  rb_now=$(date -u +%Y%m%d%H%M%S)
  rb_from=$(openssl x509 -in "$WORK/new.cert" -noout -startdate | stamp_of)
  rb_until=$(openssl x509 -in "$WORK/new.cert" -noout -enddate | stamp_of)
  if [ -z "$rb_from" ] || [ -z "$rb_until" ]; then
    block_failed "cannot read the validity dates of certificate $NEW_SERIAL; nothing installed"
    return 1
  fi
  if [ "$rb_now" -ge "$rb_until" ]; then
    block_failed "certificate $NEW_SERIAL expired on $(readable_stamp "$rb_until"); nothing installed"
    return 1
  fi
  if [ "$rb_now" -lt "$rb_from" ]; then
    block_failed "certificate $NEW_SERIAL is not valid before $(readable_stamp "$rb_from") (is this clock right?); nothing installed"
    return 1
  fi

  rb_names=$(names_of "$WORK/new.cert")
  rb_missing=
  for rb_name in $c_expect_names; do
    covered "$rb_name" "$rb_names" || rb_missing="$rb_missing $rb_name"
  done
  if [ -n "$rb_missing" ]; then
    block_failed "certificate $NEW_SERIAL does not cover${rb_missing} (it has: $(printf '%s' "$rb_names" | tr '\n' ' ' | sed 's/ *$//')); nothing installed"
    return 1
  fi

  if [ -n "$c_key" ]; then
    fetch "$c_url/api/key/$c_key_name" "$WORK/key.pem" "$c_key_api_key"
    rb_status=$?
    if [ $rb_status -ne 0 ] || [ "$HTTP_CODE" != 200 ]; then
      block_failed "$(explain_download key $rb_status "$WORK/key.pem"); nothing installed"
      return 1
    fi
    if ! openssl pkey -in "$WORK/key.pem" -noout 2>/dev/null; then
      block_failed "the key download is incomplete or damaged (not a private key); nothing installed"
      return 1
    fi
    if [ "$(openssl x509 -in "$WORK/new.cert" -noout -pubkey 2>/dev/null)" != "$(openssl pkey -in "$WORK/key.pem" -pubout 2>/dev/null)" ]; then
      block_failed "the key $c_key_name does not belong to certificate $NEW_SERIAL (their public keys differ); nothing installed"
      return 1
    fi
    cp "$WORK/key.pem" "$WORK/new.key"
  fi

  if [ -n "$c_pfx" ]; then
    # The same certificate with its key and chain as PKCS#12, encrypted with the password.
    FETCH_FORM=$(pfx_form)
    fetch "$c_url/api/certificate/$c_certificate" "$WORK/pfx.b64" "$c_certificate_api_key"
    rb_status=$?
    FETCH_FORM=
    if [ $rb_status -ne 0 ] || [ "$HTTP_CODE" != 200 ]; then
      block_failed "$(explain_download PFX $rb_status "$WORK/pfx.b64"); nothing installed"
      return 1
    fi
    if ! openssl base64 -d -A -in "$WORK/pfx.b64" -out "$WORK/new.pfx" 2>/dev/null || [ ! -s "$WORK/new.pfx" ]; then
      block_failed "the PFX download is incomplete or damaged (not base64); nothing installed"
      return 1
    fi
    rb_pfx_serial=$(pfx_serial "$WORK/new.pfx")
    if [ -z "$rb_pfx_serial" ]; then
      block_failed "the PFX download does not open with the password in $c_pfx_password_file (or is damaged); nothing installed"
      return 1
    fi
    if [ "$rb_pfx_serial" != "$NEW_SERIAL" ]; then
      block_failed "the PFX holds certificate $rb_pfx_serial, not $NEW_SERIAL (renewed meanwhile? the next run tries again); nothing installed"
      return 1
    fi
    if [ "$(openssl x509 -in "$WORK/new.cert" -noout -pubkey 2>/dev/null)" != "$(pfx_pubkey "$WORK/new.pfx")" ]; then
      block_failed "the key in the PFX does not belong to certificate $NEW_SERIAL (their public keys differ); nothing installed"
      return 1
    fi
  fi

  for rb_kind in $KINDS; do
    rb_path=$(target_of "$rb_kind")
    [ -n "$rb_path" ] || continue
    if [ ! -d "$(dirname "$rb_path")" ]; then
      block_failed "the directory of $rb_path does not exist; nothing installed"
      return 1
    fi
    if [ "$FORCE" = 1 ]; then
      CHANGED="$CHANGED $rb_kind"
    elif [ "$rb_kind" = pfx ]; then
      # A PFX's bytes differ at every download (fresh salts): the installed one is current when
      # it opens with the password and holds this certificate (and so its key).
      [ "$(pfx_serial "$rb_path")" = "$NEW_SERIAL" ] || CHANGED="$CHANGED $rb_kind"
    elif ! cmp -s "$WORK/new.$rb_kind" "$rb_path"; then
      CHANGED="$CHANGED $rb_kind"
    fi
  done
  rb_files=
  for rb_kind in $CHANGED; do rb_files="$rb_files $(target_of "$rb_kind")"; done

  if [ "$DRY_RUN" = 1 ]; then
    if [ -z "$CHANGED" ]; then
      say "$c_name: certificate $NEW_SERIAL is already installed; nothing would change"
    else
      say "$c_name: would install certificate $NEW_SERIAL (valid until $(readable_stamp "$rb_until")) to$rb_files${c_reload:+ and run: $c_reload}"
    fi
    return 0
  fi

  if [ -z "$CHANGED" ]; then
    # Installed already (by an earlier run whose state was lost, or by hand): keep the ETag.
    verify_new "$NEW_SERIAL"
    rb_verified=$VERIFIED
    if [ "$rb_verified" = false ]; then
      block_failed "certificate $NEW_SERIAL is installed, but $c_verify presents serial ${PRESENTED:-none} instead" skipped false
      return 1
    fi
    remember "$rb_new_etag"
    say "$c_name: certificate $NEW_SERIAL is already installed"
    write_report "$NEW_SERIAL" true skipped "$rb_verified"
    send_report
    return 0
  fi

  if ! install_files; then
    block_failed "installing certificate $NEW_SERIAL failed; the previous files are in place"
    return 1
  fi

  rb_reload=skipped
  if [ -n "$c_reload" ]; then
    if run_reload; then
      rb_reload=ok
    else
      rb_code=$?
      rb_out=$(reload_output)
      rb_failed="the reload failed (\"$c_reload\" exited with $rb_code${rb_out:+: $rb_out})"
      if ! restore_files "$CHANGED"; then
        block_failed "$rb_failed; putting the previous files back failed too: check the server now" failed
      elif run_reload; then
        block_failed "$rb_failed; the previous files are back and reloading with them worked" failed
      else
        block_failed "$rb_failed; the previous files are back, but reloading with them failed too ($(reload_output)): check the server now" failed
      fi
      return 1
    fi
  fi

  verify_new "$NEW_SERIAL"
  if [ "$VERIFIED" = false ]; then
    if restore_files "$CHANGED" && { [ -z "$c_reload" ] || run_reload; }; then
      block_failed "after the reload, $c_verify presents serial ${PRESENTED:-none}, not $NEW_SERIAL; the previous files are back${c_reload:+ and reloaded}" "$rb_reload" false
    else
      block_failed "after the reload, $c_verify presents serial ${PRESENTED:-none}, not $NEW_SERIAL; putting the previous files back failed: check the server now" "$rb_reload" false
    fi
    return 1
  fi

  remember "$rb_new_etag"
  rb_said="$c_name: installed certificate $NEW_SERIAL (valid until $(readable_stamp "$rb_until")) to$rb_files"
  [ "$rb_reload" = ok ] && rb_said="$rb_said; reloaded"
  [ "$VERIFIED" = true ] && rb_said="$rb_said; $c_verify presents it"
  say "$rb_said"
  write_report "$NEW_SERIAL" true "$rb_reload" "$VERIFIED"
  send_report
  return 0
}

# Keeps the ETag and the serial of what is installed now.
remember() {
  if [ -n "$1" ]; then printf '%s\n' "$1" >"$STATE_DIR/$c_name.etag"; else rm -f "$STATE_DIR/$c_name.etag"; fi
  printf '%s\n' "$NEW_SERIAL" >"$STATE_DIR/$c_name.serial"
}

# With verify: whether the server presents serial $1 (tries VERIFY_TRIES times, a second apart).
# Sets VERIFIED (true, false, or null without verify) and PRESENTED.
verify_new() {
  VERIFIED=null PRESENTED=
  [ -n "$c_verify" ] || return 0
  vn_sni=
  for vn_name in $c_expect_names $(names_of "$WORK/new.cert"); do
    case $vn_name in '*.'*) ;; *) vn_sni=$vn_name && break ;; esac
  done
  vn_try=0
  while [ "$vn_try" -lt "$VERIFY_TRIES" ]; do
    PRESENTED=$(presented_serial "$c_verify" "$vn_sni")
    if [ "$PRESENTED" = "$1" ]; then
      VERIFIED=true
      return 0
    fi
    vn_try=$((vn_try + 1))
    [ "$vn_try" -lt "$VERIFY_TRIES" ] && sleep 1
  done
  VERIFIED=false
}

# ---- main ----------------------------------------------------------------------------------------

main() {
  [ $# -gt 0 ] || usage_error 'which command? (run)'
  case $1 in
    run) shift ;;
    version | --version)
      printf 'certkeep-agent %s\n' "$VERSION"
      exit 0
      ;;
    help | -h | --help)
      usage
      exit 0
      ;;
    *) usage_error "unknown command \"$1\"" ;;
  esac
  while [ $# -gt 0 ]; do
    case $1 in
      -c | --config)
        [ $# -ge 2 ] || usage_error "$1 needs a file"
        CONFIG=$2
        shift 2
        ;;
      --config=*)
        CONFIG=${1#--config=}
        shift
        ;;
      --dry-run) DRY_RUN=1 && shift ;;
      --force) FORCE=1 && shift ;;
      -q | --quiet) QUIET=1 && shift ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) usage_error "unknown option \"$1\"" ;;
    esac
  done
  case $VERIFY_TRIES in '' | *[!0-9]*) usage_error "CERTKEEP_AGENT_VERIFY_TRIES must be a number" ;; esac
  for tool in curl openssl; do
    command -v "$tool" >/dev/null 2>&1 || {
      complain "certkeep-agent: $tool is not installed (it needs curl and openssl)"
      exit 2
    }
  done
  if [ ! -f "$CONFIG" ] || [ ! -r "$CONFIG" ]; then
    complain "certkeep-agent: cannot read the config $CONFIG"
    exit 2
  fi
  # shellcheck disable=SC2012 # the permission bits, portably
  case $(ls -ld "$CONFIG" | cut -c5-10) in
    *r*) complain "certkeep-agent: warning: $CONFIG holds API keys but other users may read it (chmod 600 $CONFIG)" ;;
  esac

  trap cleanup EXIT
  trap 'exit 1' HUP INT TERM
  # Downloads (private keys among them) go to a directory only this user can enter.
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/certkeep-agent.XXXXXX" 2>/dev/null) ||
    { WORK="${TMPDIR:-/tmp}/certkeep-agent.$$" && mkdir "$WORK"; } || {
    WORK=
    complain "certkeep-agent: cannot make a temporary directory in ${TMPDIR:-/tmp}"
    exit 1
  }
  parse_config "$CONFIG" >"$WORK/config"
  if grep -q '^E' "$WORK/config"; then
    awk '/^E\t/ { sub(/^E\t/, ""); print }' "$WORK/config" >&2
    exit 2
  fi
  blocks=$(awk -F "$TAB" '$1 == "B" { print $2 }' "$WORK/config")
  invalid=0
  for block in $blocks; do
    load_block "$block"
    check_block || invalid=1
  done
  [ $invalid = 0 ] || exit 2

  if [ "$DRY_RUN" = 0 ]; then
    if [ ! -d "$STATE_DIR" ] && ! mkdir -p "$STATE_DIR"; then
      complain "certkeep-agent: cannot make the state directory $STATE_DIR (set CERTKEEP_AGENT_STATE_DIR)"
      exit 1
    fi
    if mkdir "$STATE_DIR/lock" 2>/dev/null; then
      LOCKED=1
      echo $$ >"$STATE_DIR/lock/pid"
    else
      other=$(cat "$STATE_DIR/lock/pid" 2>/dev/null)
      if [ -n "$other" ] && kill -0 "$other" 2>/dev/null; then
        complain "certkeep-agent: another run (process $other) is still working; try again later"
        exit 1
      fi
      # Left behind by a run that was killed.
      rm -rf "$STATE_DIR/lock"
      mkdir "$STATE_DIR/lock" || exit 1
      LOCKED=1
      echo $$ >"$STATE_DIR/lock/pid"
    fi
  fi

  status=0
  for block in $blocks; do
    run_block "$block" || status=1
  done
  exit $status
}

main "$@"
