DROP INDEX `audit_log_object`;--> statement-breakpoint
DROP INDEX `audit_log_actor`;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `count` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `last_at` integer;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `aggregate_key` text;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `seq` integer;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `hash` text;--> statement-breakpoint
CREATE INDEX `audit_log_action` ON `audit_log` (`action`,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_actor_name` ON `audit_log` (`actor_name`,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_object_name` ON `audit_log` (`object_name`,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_outcome` ON `audit_log` (`outcome`,`at`);--> statement-breakpoint
CREATE UNIQUE INDEX `audit_log_seq` ON `audit_log` (`seq`);--> statement-breakpoint
CREATE INDEX `audit_log_unsealed` ON `audit_log` (`id`) WHERE "audit_log"."seq" is null and "audit_log"."aggregate_key" is null;--> statement-breakpoint
CREATE INDEX `audit_log_unsealed_downloads` ON `audit_log` (`at`) WHERE "audit_log"."seq" is null and "audit_log"."aggregate_key" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX `audit_log_aggregate` ON `audit_log` (`aggregate_key`) WHERE "audit_log"."seq" is null;