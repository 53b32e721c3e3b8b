CREATE TABLE `metric_counters` (
	`name` text NOT NULL,
	`labels` text NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`name`, `labels`)
);
