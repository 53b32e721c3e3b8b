ALTER TABLE `certificates` ADD `ari_window_start` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `ari_window_end` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `ari_check_at` integer;--> statement-breakpoint
CREATE INDEX `certificates_ari_check_at` ON `certificates` (`ari_check_at`);