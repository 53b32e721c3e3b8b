CREATE TABLE `tracking_anchors` (
	`sha256` text PRIMARY KEY NOT NULL,
	`subject` text NOT NULL,
	`pem` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tracking_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`target_id` text NOT NULL,
	`sha256` text NOT NULL,
	`serial` text NOT NULL,
	`subject` text NOT NULL,
	`issuer` text NOT NULL,
	`not_after` integer NOT NULL,
	`seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tracking_history_target` ON `tracking_history` (`target_id`,`id`);--> statement-breakpoint
CREATE TABLE `tracking_targets` (
	`id` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`target` text,
	`target_key` text,
	`host` text,
	`host_parent` text,
	`port` integer,
	`starttls` text,
	`certificate_id` text,
	`subject` text,
	`sans` text,
	`issuer` text,
	`serial` text,
	`sha256` text,
	`not_before` integer,
	`not_after` integer,
	`chain_pem` text,
	`chain_valid` integer,
	`chain_error` text,
	`name_matches` integer,
	`last_scan_at` integer,
	`last_error` text,
	`changed_at` integer,
	`next_scan_at` integer,
	`problems` text,
	`problem_since` text,
	`problem_rank` integer DEFAULT 1 NOT NULL,
	`expiry_key` integer NOT NULL,
	`subject_key` text NOT NULL,
	`expiry_notice_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tracking_target_key` ON `tracking_targets` (`target_key`);--> statement-breakpoint
CREATE UNIQUE INDEX `tracking_certificate` ON `tracking_targets` (`certificate_id`);--> statement-breakpoint
CREATE INDEX `tracking_sha256` ON `tracking_targets` (`sha256`,`source`);--> statement-breakpoint
CREATE INDEX `tracking_expiry` ON `tracking_targets` (`expiry_key`,`id`);--> statement-breakpoint
CREATE INDEX `tracking_subject` ON `tracking_targets` (`subject_key`,`id`);--> statement-breakpoint
CREATE INDEX `tracking_source` ON `tracking_targets` (`source`,`subject_key`,`id`);--> statement-breakpoint
CREATE INDEX `tracking_problems` ON `tracking_targets` (`problem_rank`,`expiry_key`,`id`);--> statement-breakpoint
CREATE INDEX `tracking_next_scan` ON `tracking_targets` (`next_scan_at`) WHERE "tracking_targets"."next_scan_at" is not null;--> statement-breakpoint
CREATE INDEX `tracking_expiry_notice` ON `tracking_targets` (`expiry_notice_at`) WHERE "tracking_targets"."expiry_notice_at" is not null;--> statement-breakpoint
CREATE INDEX `tracking_host` ON `tracking_targets` (`host`);--> statement-breakpoint
CREATE INDEX `tracking_host_parent` ON `tracking_targets` (`host_parent`);--> statement-breakpoint
CREATE INDEX `tracking_search` ON `tracking_targets` (`subject_key`,`target`,`sans`);