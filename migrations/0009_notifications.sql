CREATE TABLE `notification_channels` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`events` text NOT NULL,
	`expiring_days` text NOT NULL,
	`config_sealed` text NOT NULL,
	`link_origin` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notification_channels_name_unique` ON `notification_channels` (`name`);--> statement-breakpoint
CREATE TABLE `notification_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_id` integer NOT NULL,
	`event_type` text NOT NULL,
	`channel_id` text NOT NULL,
	`channel_name` text NOT NULL,
	`channel_type` text NOT NULL,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`claimed_until` integer,
	`claimed_by` text,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`sent_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notification_deliveries_event_channel` ON `notification_deliveries` (`event_id`,`channel_id`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_due` ON `notification_deliveries` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_state` ON `notification_deliveries` (`state`,`id`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_channel` ON `notification_deliveries` (`channel_name`,`id`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_event_type` ON `notification_deliveries` (`event_type`,`id`);--> statement-breakpoint
ALTER TABLE `certificates` ADD `failing_since` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `expiry_check_at` integer;--> statement-breakpoint
CREATE INDEX `certificates_expiry_check` ON `certificates` (`expiry_check_at`);--> statement-breakpoint
CREATE INDEX `certificates_expiry_unchecked` ON `certificates` (`id`) WHERE "certificates"."expiry_check_at" is null and "certificates"."pem" is not null;