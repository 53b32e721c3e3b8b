CREATE TABLE `consumers` (
	`id` text PRIMARY KEY NOT NULL,
	`certificate_id` text NOT NULL,
	`api_key_slot` integer NOT NULL,
	`client_ip` text NOT NULL,
	`fetched_serial` text,
	`fetched_at` integer,
	`installed_serial` text,
	`installed_at` integer,
	`reported_serial` text,
	`reported_at` integer,
	`installed` integer,
	`reload` text,
	`verified` integer,
	`host` text,
	`agent_version` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`certificate_id`) REFERENCES `certificates`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `consumers_certificate_slot_ip` ON `consumers` (`certificate_id`,`api_key_slot`,`client_ip`);