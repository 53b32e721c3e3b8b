ALTER TABLE `consumers` ADD `behind_since` integer;--> statement-breakpoint
ALTER TABLE `consumers` ADD `stale_serial` text;--> statement-breakpoint
CREATE INDEX `consumers_behind` ON `consumers` (`behind_since`,`id`) WHERE "consumers"."behind_since" is not null;--> statement-breakpoint
CREATE INDEX `consumers_stale_due` ON `consumers` (`behind_since`) WHERE "consumers"."behind_since" is not null and "consumers"."stale_serial" is null;--> statement-breakpoint
CREATE INDEX `consumers_failed` ON `consumers` (`reported_at`,`id`) WHERE "consumers"."installed" = 0 or "consumers"."reload" = 'failed' or "consumers"."verified" = 0;--> statement-breakpoint
CREATE INDEX `consumers_seen` ON `consumers` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `certificates_timeline` ON `certificates` (`status`,`not_after`,`renew_at`,`not_before`,`account_id`,`last_error`);