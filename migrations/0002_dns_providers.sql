CREATE TABLE `acme_dns_registrations` (
	`id` text PRIMARY KEY NOT NULL,
	`provider_id` text NOT NULL,
	`name` text NOT NULL,
	`fulldomain` text NOT NULL,
	`credentials_sealed` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `acme_dns_provider_name` ON `acme_dns_registrations` (`provider_id`,`name`);--> statement-breakpoint
CREATE TABLE `dns_providers` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`config_sealed` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `dns_providers_name_unique` ON `dns_providers` (`name`);