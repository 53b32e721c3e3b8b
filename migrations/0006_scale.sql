DROP INDEX `certificates_status`;--> statement-breakpoint
CREATE INDEX `certificates_status_name` ON `certificates` (`status`,`name`);--> statement-breakpoint
CREATE INDEX `certificates_expiry` ON `certificates` (`not_after`,`name`,`status`);--> statement-breakpoint
CREATE INDEX `certificates_failing` ON `certificates` (`name`) WHERE "certificates"."last_error" is not null;--> statement-breakpoint
CREATE INDEX `certificates_failing_recent` ON `certificates` (`updated_at`) WHERE "certificates"."last_error" is not null;--> statement-breakpoint
CREATE INDEX `certificates_search` ON `certificates` (`name`,`domains`);--> statement-breakpoint
CREATE INDEX `certificates_unissued` ON `certificates` (`created_at`) WHERE "certificates"."pem" is null;--> statement-breakpoint
CREATE INDEX `certificates_next_attempt` ON `certificates` (`next_attempt_at`) WHERE "certificates"."next_attempt_at" is not null;--> statement-breakpoint
CREATE INDEX `certificates_account` ON `certificates` (`account_id`,`name`);--> statement-breakpoint
CREATE INDEX `certificates_key` ON `certificates` (`key_id`,`name`);--> statement-breakpoint
CREATE INDEX `certificates_served_key` ON `certificates` (`served_key_id`);--> statement-breakpoint
CREATE INDEX `certificates_dns_provider` ON `certificates` (`dns_provider_id`,`name`);--> statement-breakpoint
ALTER TABLE `acme_accounts` ADD `max_orders_per_hour` integer;--> statement-breakpoint
ALTER TABLE `acme_accounts` ADD `paused_until` integer;--> statement-breakpoint
ALTER TABLE `acme_accounts` ADD `pause_problem` text;--> statement-breakpoint
CREATE INDEX `orders_open` ON `orders` (`certificate_id`) WHERE "orders"."finished_at" is null;--> statement-breakpoint
CREATE INDEX `orders_account_created` ON `orders` (`account_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `orders_url` ON `orders` (`order_url`);