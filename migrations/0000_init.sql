CREATE TABLE `acme_accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`directory_url` text NOT NULL,
	`email` text,
	`staging` integer DEFAULT false NOT NULL,
	`tos_agreed` integer DEFAULT false NOT NULL,
	`account_url` text,
	`status` text NOT NULL,
	`key_type` text NOT NULL,
	`key_sealed` text NOT NULL,
	`next_key_sealed` text,
	`eab_kid` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `acme_accounts_name_unique` ON `acme_accounts` (`name`);--> statement-breakpoint
CREATE TABLE `admin_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `admin_tokens_token_hash_unique` ON `admin_tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_kind` text NOT NULL,
	`owner_id` text NOT NULL,
	`slot` integer NOT NULL,
	`key_hash` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_owner_slot` ON `api_keys` (`owner_kind`,`owner_id`,`slot`);--> statement-breakpoint
CREATE TABLE `certificates` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`domains` text NOT NULL,
	`challenge` text NOT NULL,
	`account_id` text NOT NULL,
	`key_id` text NOT NULL,
	`dns_provider_id` text,
	`preferred_chain` text,
	`profile` text,
	`subject` text,
	`status` text NOT NULL,
	`pem` text,
	`served_key_id` text,
	`serial` text,
	`not_before` integer,
	`not_after` integer,
	`renew_at` integer,
	`last_error` text,
	`failure_count` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`revoked_at` integer,
	`revocation_reason` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `acme_accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`key_id`) REFERENCES `keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `certificates_name_unique` ON `certificates` (`name`);--> statement-breakpoint
CREATE INDEX `certificates_renew_at` ON `certificates` (`renew_at`);--> statement-breakpoint
CREATE INDEX `certificates_status` ON `certificates` (`status`);--> statement-breakpoint
CREATE TABLE `challenges` (
	`token` text PRIMARY KEY NOT NULL,
	`order_id` text NOT NULL,
	`type` text NOT NULL,
	`domain` text NOT NULL,
	`key_authorization` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `challenges_order` ON `challenges` (`order_id`);--> statement-breakpoint
CREATE TABLE `keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`key_sealed` text NOT NULL,
	`spki_sha256` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `keys_name_unique` ON `keys` (`name`);--> statement-breakpoint
CREATE TABLE `leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `order_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`order_id` text NOT NULL,
	`at` integer NOT NULL,
	`level` text NOT NULL,
	`message` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `order_events_order` ON `order_events` (`order_id`,`id`);--> statement-breakpoint
CREATE TABLE `orders` (
	`id` text PRIMARY KEY NOT NULL,
	`certificate_id` text NOT NULL,
	`account_id` text NOT NULL,
	`key_id` text NOT NULL,
	`state` text NOT NULL,
	`reason` text NOT NULL,
	`domains` text NOT NULL,
	`order_url` text,
	`finalize_url` text,
	`authorizations` text,
	`certificate_url` text,
	`replaces` text,
	`serial` text,
	`not_before` integer,
	`not_after` integer,
	`thumbprint` text,
	`error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`certificate_id`) REFERENCES `certificates`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `orders_certificate` ON `orders` (`certificate_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `orders_state` ON `orders` (`state`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`password_hash` text NOT NULL,
	`failed_logins` integer DEFAULT 0 NOT NULL,
	`locked_until` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);