-- The postgresql schema a store got from the numbered migrations [1, 2] of commit 9769d26
-- (fine_tuning_assets database.py), captured by running that code's migrate() on an empty database.
CREATE TABLE schema_migrations (
	version INTEGER NOT NULL,
	description TEXT NOT NULL,
	applied_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (version)
);
CREATE TABLE import_batches (
	id SERIAL NOT NULL,
	kind VARCHAR(50) NOT NULL,
	source TEXT NOT NULL,
	insight_count INTEGER NOT NULL,
	cluster_count INTEGER NOT NULL,
	imported_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);
CREATE TABLE model_versions (
	id SERIAL NOT NULL,
	task VARCHAR(100) NOT NULL,
	version INTEGER NOT NULL,
	state VARCHAR(20) NOT NULL,
	model_kind VARCHAR(100) NOT NULL,
	base_model TEXT NOT NULL,
	dataset_version VARCHAR(200) NOT NULL,
	artifact_path TEXT,
	config JSON NOT NULL,
	training_metrics JSON NOT NULL,
	evaluation JSON NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	owner_run_id VARCHAR(64),
	owner_host VARCHAR(255),
	owner_pid INTEGER,
	PRIMARY KEY (id),
	CONSTRAINT uq_model_versions_task_version UNIQUE (task, version),
	CONSTRAINT ck_model_versions_state CHECK (state IN ('training', 'evaluating', 'staged', 'active', 'deprecated', 'failed'))
);
CREATE UNIQUE INDEX uq_model_versions_one_active ON model_versions (task) WHERE state = 'active';
CREATE TABLE insights (
	id VARCHAR(200) NOT NULL,
	statement TEXT NOT NULL,
	confidence FLOAT,
	evidence_type VARCHAR(100),
	source VARCHAR(500),
	extra_metadata JSON NOT NULL,
	import_batch_id INTEGER,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(import_batch_id) REFERENCES import_batches (id)
);
CREATE TABLE merge_clusters (
	id VARCHAR(200) NOT NULL,
	status VARCHAR(20) NOT NULL,
	reviewer VARCHAR(200),
	decided_at TIMESTAMP WITH TIME ZONE,
	import_batch_id INTEGER,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	recorded_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT ck_merge_clusters_status CHECK (status IN ('pending', 'approved', 'rejected')),
	CONSTRAINT ck_merge_clusters_decided_at CHECK ((status = 'pending' AND decided_at IS NULL) OR (status <> 'pending' AND decided_at IS NOT NULL)),
	FOREIGN KEY(import_batch_id) REFERENCES import_batches (id)
);
CREATE INDEX ix_merge_clusters_recorded_at ON merge_clusters (recorded_at);
CREATE TABLE model_events (
	id SERIAL NOT NULL,
	task VARCHAR(100) NOT NULL,
	model_version_id INTEGER NOT NULL,
	event VARCHAR(50) NOT NULL,
	from_state VARCHAR(20),
	to_state VARCHAR(20) NOT NULL,
	actor VARCHAR(200) NOT NULL,
	reason TEXT NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(model_version_id) REFERENCES model_versions (id)
);
CREATE INDEX ix_model_events_task ON model_events (task, id);
CREATE TABLE merge_cluster_members (
	cluster_id VARCHAR(200) NOT NULL,
	insight_id VARCHAR(200) NOT NULL,
	similarity FLOAT,
	selected BOOLEAN NOT NULL,
	PRIMARY KEY (cluster_id, insight_id),
	FOREIGN KEY(cluster_id) REFERENCES merge_clusters (id),
	FOREIGN KEY(insight_id) REFERENCES insights (id)
);
INSERT INTO schema_migrations (version, description, applied_at) VALUES (1, 'feedback store and model registry', '2026-03-01 12:00:00+00:00');
INSERT INTO schema_migrations (version, description, applied_at) VALUES (2, 'model versions record their owner (Dagster run, host, process)', '2026-03-01 12:00:00+00:00');
