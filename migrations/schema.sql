--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: pgqueuer_status; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.pgqueuer_status AS ENUM (
    'queued',
    'picked',
    'successful',
    'exception',
    'canceled',
    'deleted',
    'failed'
);

--
-- Name: fn_pgqueuer_changed(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.fn_pgqueuer_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    to_emit BOOLEAN := false;  -- Flag to decide whether to emit a notification
BEGIN
    -- Check operation type and set the emit flag accordingly
    IF TG_OP = 'UPDATE' AND OLD IS DISTINCT FROM NEW THEN
        to_emit := true;
    ELSIF TG_OP = 'DELETE' THEN
        to_emit := true;
    ELSIF TG_OP = 'INSERT' THEN
        to_emit := true;
    ELSIF TG_OP = 'TRUNCATE' THEN
        to_emit := true;
    END IF;

    -- Perform notification if the emit flag is set
    IF to_emit THEN
        PERFORM pg_notify(
            'ch_pgqueuer',
            json_build_object(
                'channel', 'ch_pgqueuer',
                'operation', lower(TG_OP),
                'sent_at', NOW(),
                'table', TG_TABLE_NAME,
                'type', 'table_changed_event'
            )::text
        );
    END IF;

    -- Return appropriate value based on the operation
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        RETURN OLD;
    ELSE
        RETURN NULL; -- For TRUNCATE and other non-row-specific contexts
    END IF;

END;
$$;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: datasets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.datasets (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id uuid NOT NULL,
    datasource_id uuid NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    sql text NOT NULL,
    columns jsonb DEFAULT '[]'::jsonb NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by uuid,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT datasets_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT datasets_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200))),
    CONSTRAINT datasets_sql_check CHECK (((length(sql) >= 1) AND (length(sql) <= 100000)))
);

--
-- Name: datasources; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.datasources (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id uuid NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    kind text DEFAULT 'postgres'::text NOT NULL,
    host text NOT NULL,
    port integer NOT NULL,
    database text NOT NULL,
    username text NOT NULL,
    password_ciphertext text,
    ssl_mode text DEFAULT 'prefer'::text NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by uuid,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT datasources_database_check CHECK (((length(database) >= 1) AND (length(database) <= 63))),
    CONSTRAINT datasources_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT datasources_host_check CHECK (((length(host) >= 1) AND (length(host) <= 253))),
    CONSTRAINT datasources_kind_check CHECK ((kind = 'postgres'::text)),
    CONSTRAINT datasources_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200))),
    CONSTRAINT datasources_port_check CHECK (((port >= 1) AND (port <= 65535))),
    CONSTRAINT datasources_ssl_mode_check CHECK ((ssl_mode = ANY (ARRAY['disable'::text, 'prefer'::text, 'require'::text, 'verify-full'::text]))),
    CONSTRAINT datasources_username_check CHECK (((length(username) >= 1) AND (length(username) <= 63)))
);

--
-- Name: feature_flags; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.feature_flags (
    key text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    enabled boolean NOT NULL,
    default_variant text DEFAULT 'off'::text NOT NULL,
    allow_workspaces uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    deny_workspaces uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    rollout_percentage integer DEFAULT 0 NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by uuid,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT feature_flags_allow_workspaces_check CHECK ((cardinality(allow_workspaces) <= 1000)),
    CONSTRAINT feature_flags_default_variant_check CHECK ((default_variant = ANY (ARRAY['on'::text, 'off'::text]))),
    CONSTRAINT feature_flags_deny_workspaces_check CHECK ((cardinality(deny_workspaces) <= 1000)),
    CONSTRAINT feature_flags_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT feature_flags_key_check CHECK ((key ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'::text)),
    CONSTRAINT feature_flags_rollout_percentage_check CHECK (((rollout_percentage >= 0) AND (rollout_percentage <= 100)))
);

--
-- Name: job_cron_ticks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job_cron_ticks (
    schedule text NOT NULL,
    tick timestamp with time zone NOT NULL,
    job_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: legacy_routes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.legacy_routes (
    workspace_id uuid NOT NULL,
    legacy_tags text[] NOT NULL,
    updated_by uuid,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT legacy_routes_legacy_tags_check CHECK (((cardinality(legacy_tags) >= 1) AND (cardinality(legacy_tags) <= 50)))
);

--
-- Name: page_ops; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.page_ops (
    page_id uuid NOT NULL,
    version integer NOT NULL,
    patch jsonb NOT NULL,
    actor uuid,
    op_id text NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT page_ops_op_id_check CHECK (((length(op_id) >= 1) AND (length(op_id) <= 100))),
    CONSTRAINT page_ops_version_check CHECK ((version >= 2))
);

--
-- Name: page_revisions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.page_revisions (
    page_id uuid NOT NULL,
    version integer NOT NULL,
    schema jsonb NOT NULL,
    reason text NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT page_revisions_reason_check CHECK ((reason = ANY (ARRAY['create'::text, 'snapshot'::text, 'restore'::text, 'close'::text])))
);

--
-- Name: pages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pages (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id uuid NOT NULL,
    title text NOT NULL,
    schema jsonb NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    snapshot_version integer DEFAULT 1 NOT NULL,
    snapshot_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by uuid,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    CONSTRAINT pages_check CHECK (((snapshot_version >= 1) AND (snapshot_version <= version))),
    CONSTRAINT pages_title_check CHECK (((length(title) >= 1) AND (length(title) <= 200))),
    CONSTRAINT pages_version_check CHECK ((version >= 1))
);

--
-- Name: pgqueuer; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pgqueuer (
    id bigint NOT NULL,
    priority integer NOT NULL,
    queue_manager_id uuid,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    heartbeat timestamp with time zone DEFAULT now() NOT NULL,
    execute_after timestamp with time zone DEFAULT now() NOT NULL,
    status public.pgqueuer_status NOT NULL,
    entrypoint text NOT NULL,
    dedupe_key text,
    payload bytea,
    headers jsonb,
    attempts integer DEFAULT 0 NOT NULL,
    slot bigint
);

--
-- Name: pgqueuer_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.pgqueuer_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: pgqueuer_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.pgqueuer_id_seq OWNED BY public.pgqueuer.id;

--
-- Name: pgqueuer_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pgqueuer_log (
    id bigint NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    job_id bigint NOT NULL,
    status public.pgqueuer_status NOT NULL,
    priority integer NOT NULL,
    entrypoint text NOT NULL,
    traceback jsonb,
    aggregated boolean DEFAULT false
);

--
-- Name: pgqueuer_log_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.pgqueuer_log ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.pgqueuer_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: pgqueuer_schedules; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pgqueuer_schedules (
    id bigint NOT NULL,
    expression text NOT NULL,
    entrypoint text NOT NULL,
    heartbeat timestamp with time zone DEFAULT now() NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    next_run timestamp with time zone DEFAULT now() NOT NULL,
    last_run timestamp with time zone,
    status public.pgqueuer_status DEFAULT 'queued'::public.pgqueuer_status
);

--
-- Name: pgqueuer_schedules_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.pgqueuer_schedules_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: pgqueuer_schedules_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.pgqueuer_schedules_id_seq OWNED BY public.pgqueuer_schedules.id;

--
-- Name: pgqueuer_statistics; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pgqueuer_statistics (
    id bigint NOT NULL,
    created timestamp with time zone DEFAULT date_trunc('sec'::text, now()) NOT NULL,
    count bigint NOT NULL,
    priority integer NOT NULL,
    status public.pgqueuer_status NOT NULL,
    entrypoint text NOT NULL
);

--
-- Name: pgqueuer_statistics_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.pgqueuer_statistics_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: pgqueuer_statistics_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.pgqueuer_statistics_id_seq OWNED BY public.pgqueuer_statistics.id;

--
-- Name: refresh_tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.refresh_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid NOT NULL,
    parent_id uuid,
    token_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    used_at timestamp with time zone
);

--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version character varying NOT NULL
);

--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    user_agent text,
    ip text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    revoked_reason text,
    CONSTRAINT sessions_ip_check CHECK ((length(ip) <= 64)),
    CONSTRAINT sessions_user_agent_check CHECK ((length(user_agent) <= 512))
);

--
-- Name: sync_jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sync_jobs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id uuid NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    source_dataset_id uuid,
    source_datasource_id uuid,
    source_schema text,
    source_table text,
    sink_datasource_id uuid NOT NULL,
    sink_schema text NOT NULL,
    sink_table text NOT NULL,
    mode text NOT NULL,
    key_columns text[] DEFAULT '{}'::text[] NOT NULL,
    schedule text,
    next_run_at timestamp with time zone,
    version integer DEFAULT 1 NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by uuid,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT sync_jobs_check CHECK (((source_dataset_id IS NULL) <> (source_datasource_id IS NULL))),
    CONSTRAINT sync_jobs_check1 CHECK (((source_datasource_id IS NULL) OR ((source_schema IS NOT NULL) AND (source_table IS NOT NULL)))),
    CONSTRAINT sync_jobs_check2 CHECK (((mode <> 'upsert'::text) OR (cardinality(key_columns) > 0))),
    CONSTRAINT sync_jobs_check3 CHECK (((schedule IS NULL) = (next_run_at IS NULL))),
    CONSTRAINT sync_jobs_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT sync_jobs_mode_check CHECK ((mode = ANY (ARRAY['append'::text, 'overwrite'::text, 'upsert'::text]))),
    CONSTRAINT sync_jobs_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);

--
-- Name: sync_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sync_runs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    sync_job_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    status text DEFAULT 'QUEUED'::text NOT NULL,
    trigger text NOT NULL,
    requested_by uuid,
    notify_user_id uuid,
    queue_job_id bigint,
    peer_status text,
    submitted_at timestamp with time zone,
    last_sequence bigint DEFAULT 0 NOT NULL,
    rows_read bigint DEFAULT 0 NOT NULL,
    rows_written bigint DEFAULT 0 NOT NULL,
    bytes_read bigint DEFAULT 0 NOT NULL,
    bytes_written bigint DEFAULT 0 NOT NULL,
    rows_per_second double precision,
    error text,
    cancel_requested_at timestamp with time zone,
    canceled_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT sync_runs_error_check CHECK ((length(error) <= 4000)),
    CONSTRAINT sync_runs_status_check CHECK ((status = ANY (ARRAY['QUEUED'::text, 'RUNNING'::text, 'CANCELING'::text, 'FINISHED'::text, 'FAILED'::text, 'CANCELED'::text]))),
    CONSTRAINT sync_runs_trigger_check CHECK ((trigger = ANY (ARRAY['manual'::text, 'schedule'::text])))
);

--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    password_hash text NOT NULL,
    display_name text NOT NULL,
    role text DEFAULT 'user'::text NOT NULL,
    disabled boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_display_name_check CHECK (((length(display_name) >= 1) AND (length(display_name) <= 100))),
    CONSTRAINT users_email_check CHECK (((email = btrim(email)) AND ((length(email) >= 3) AND (length(email) <= 254)))),
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['user'::text, 'admin'::text])))
);

--
-- Name: workspace_members; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.workspace_members (
    workspace_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT workspace_members_role_check CHECK ((role = ANY (ARRAY['owner'::text, 'editor'::text, 'viewer'::text])))
);

--
-- Name: workspaces; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.workspaces (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT workspaces_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT workspaces_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))
);

--
-- Name: pgqueuer id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pgqueuer ALTER COLUMN id SET DEFAULT nextval('public.pgqueuer_id_seq'::regclass);

--
-- Name: pgqueuer_schedules id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pgqueuer_schedules ALTER COLUMN id SET DEFAULT nextval('public.pgqueuer_schedules_id_seq'::regclass);

--
-- Name: pgqueuer_statistics id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pgqueuer_statistics ALTER COLUMN id SET DEFAULT nextval('public.pgqueuer_statistics_id_seq'::regclass);

--
-- Name: datasets datasets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasets
    ADD CONSTRAINT datasets_pkey PRIMARY KEY (id);

--
-- Name: datasets datasets_workspace_id_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasets
    ADD CONSTRAINT datasets_workspace_id_name_key UNIQUE (workspace_id, name);

--
-- Name: datasources datasources_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasources
    ADD CONSTRAINT datasources_pkey PRIMARY KEY (id);

--
-- Name: datasources datasources_workspace_id_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasources
    ADD CONSTRAINT datasources_workspace_id_name_key UNIQUE (workspace_id, name);

--
-- Name: feature_flags feature_flags_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feature_flags
    ADD CONSTRAINT feature_flags_pkey PRIMARY KEY (key);

--
-- Name: job_cron_ticks job_cron_ticks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_cron_ticks
    ADD CONSTRAINT job_cron_ticks_pkey PRIMARY KEY (schedule, tick);

--
-- Name: legacy_routes legacy_routes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.legacy_routes
    ADD CONSTRAINT legacy_routes_pkey PRIMARY KEY (workspace_id);

--
-- Name: page_ops page_ops_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.page_ops
    ADD CONSTRAINT page_ops_pkey PRIMARY KEY (page_id, version);

--
-- Name: page_revisions page_revisions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.page_revisions
    ADD CONSTRAINT page_revisions_pkey PRIMARY KEY (page_id, version);

--
-- Name: pages pages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pages
    ADD CONSTRAINT pages_pkey PRIMARY KEY (id);

--
-- Name: pgqueuer_log pgqueuer_log_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pgqueuer_log
    ADD CONSTRAINT pgqueuer_log_pkey PRIMARY KEY (id);

--
-- Name: pgqueuer pgqueuer_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pgqueuer
    ADD CONSTRAINT pgqueuer_pkey PRIMARY KEY (id);

--
-- Name: pgqueuer_schedules pgqueuer_schedules_expression_entrypoint_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pgqueuer_schedules
    ADD CONSTRAINT pgqueuer_schedules_expression_entrypoint_key UNIQUE (expression, entrypoint);

--
-- Name: pgqueuer_schedules pgqueuer_schedules_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pgqueuer_schedules
    ADD CONSTRAINT pgqueuer_schedules_pkey PRIMARY KEY (id);

--
-- Name: pgqueuer_statistics pgqueuer_statistics_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pgqueuer_statistics
    ADD CONSTRAINT pgqueuer_statistics_pkey PRIMARY KEY (id);

--
-- Name: refresh_tokens refresh_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id);

--
-- Name: refresh_tokens refresh_tokens_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refresh_tokens
    ADD CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash);

--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

--
-- Name: sync_jobs sync_jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_jobs
    ADD CONSTRAINT sync_jobs_pkey PRIMARY KEY (id);

--
-- Name: sync_jobs sync_jobs_workspace_id_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_jobs
    ADD CONSTRAINT sync_jobs_workspace_id_name_key UNIQUE (workspace_id, name);

--
-- Name: sync_runs sync_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_runs
    ADD CONSTRAINT sync_runs_pkey PRIMARY KEY (id);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: workspace_members workspace_members_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workspace_members
    ADD CONSTRAINT workspace_members_pkey PRIMARY KEY (workspace_id, user_id);

--
-- Name: workspaces workspaces_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workspaces
    ADD CONSTRAINT workspaces_pkey PRIMARY KEY (id);

--
-- Name: datasets_datasource_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX datasets_datasource_idx ON public.datasets USING btree (datasource_id);

--
-- Name: job_cron_ticks_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX job_cron_ticks_created_idx ON public.job_cron_ticks USING btree (created_at);

--
-- Name: page_ops_op_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX page_ops_op_id_key ON public.page_ops USING btree (page_id, op_id);

--
-- Name: pages_workspace_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pages_workspace_idx ON public.pages USING btree (workspace_id, updated_at DESC) WHERE (deleted_at IS NULL);

--
-- Name: pgqueuer_ep_ea_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_ep_ea_idx ON public.pgqueuer USING btree (entrypoint, execute_after) WHERE (status = 'queued'::public.pgqueuer_status);

--
-- Name: pgqueuer_ep_prio_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_ep_prio_id_idx ON public.pgqueuer USING btree (entrypoint, priority DESC, id) WHERE (status = 'queued'::public.pgqueuer_status);

--
-- Name: pgqueuer_log_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_log_created ON public.pgqueuer_log USING btree (created);

--
-- Name: pgqueuer_log_job_id_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_log_job_id_status ON public.pgqueuer_log USING btree (job_id, created DESC);

--
-- Name: pgqueuer_log_not_aggregated; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_log_not_aggregated ON public.pgqueuer_log USING btree ((1)) WHERE (NOT aggregated);

--
-- Name: pgqueuer_log_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_log_status ON public.pgqueuer_log USING btree (status);

--
-- Name: pgqueuer_picked_heartbeat_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_picked_heartbeat_idx ON public.pgqueuer USING btree (heartbeat) WHERE (status = 'picked'::public.pgqueuer_status);

--
-- Name: pgqueuer_picked_slot_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX pgqueuer_picked_slot_idx ON public.pgqueuer USING btree (entrypoint, slot) WHERE ((status = 'picked'::public.pgqueuer_status) AND (slot IS NOT NULL));

--
-- Name: pgqueuer_priority_id_id1_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_priority_id_id1_idx ON public.pgqueuer USING btree (priority, id DESC) INCLUDE (id) WHERE (status = 'queued'::public.pgqueuer_status);

--
-- Name: pgqueuer_queue_manager_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_queue_manager_id_idx ON public.pgqueuer USING btree (queue_manager_id) WHERE (queue_manager_id IS NOT NULL);

--
-- Name: pgqueuer_statistics_unique_count; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX pgqueuer_statistics_unique_count ON public.pgqueuer_statistics USING btree (priority, date_trunc('sec'::text, timezone('UTC'::text, created)), status, entrypoint);

--
-- Name: pgqueuer_unique_dedupe_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX pgqueuer_unique_dedupe_key ON public.pgqueuer USING btree (dedupe_key) WHERE ((status = ANY (ARRAY['queued'::public.pgqueuer_status, 'picked'::public.pgqueuer_status])) AND (dedupe_key IS NOT NULL));

--
-- Name: pgqueuer_updated_id_id1_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX pgqueuer_updated_id_id1_idx ON public.pgqueuer USING btree (updated, id DESC) INCLUDE (id) WHERE (status = 'picked'::public.pgqueuer_status);

--
-- Name: refresh_tokens_parent_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX refresh_tokens_parent_idx ON public.refresh_tokens USING btree (parent_id);

--
-- Name: refresh_tokens_session_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX refresh_tokens_session_idx ON public.refresh_tokens USING btree (session_id);

--
-- Name: sessions_expires_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_expires_at_idx ON public.sessions USING btree (expires_at);

--
-- Name: sessions_revoked_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_revoked_at_idx ON public.sessions USING btree (revoked_at) WHERE (revoked_at IS NOT NULL);

--
-- Name: sessions_user_active_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_user_active_idx ON public.sessions USING btree (user_id) WHERE (revoked_at IS NULL);

--
-- Name: sync_jobs_due_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_jobs_due_idx ON public.sync_jobs USING btree (next_run_at) WHERE (next_run_at IS NOT NULL);

--
-- Name: sync_jobs_sink_datasource_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_jobs_sink_datasource_idx ON public.sync_jobs USING btree (sink_datasource_id);

--
-- Name: sync_jobs_source_dataset_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_jobs_source_dataset_idx ON public.sync_jobs USING btree (source_dataset_id);

--
-- Name: sync_jobs_source_datasource_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_jobs_source_datasource_idx ON public.sync_jobs USING btree (source_datasource_id);

--
-- Name: sync_runs_job_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_runs_job_created_idx ON public.sync_runs USING btree (sync_job_id, created_at DESC, id DESC);

--
-- Name: sync_runs_one_active_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX sync_runs_one_active_idx ON public.sync_runs USING btree (sync_job_id) WHERE (status = ANY (ARRAY['QUEUED'::text, 'RUNNING'::text, 'CANCELING'::text]));

--
-- Name: sync_runs_workspace_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_runs_workspace_idx ON public.sync_runs USING btree (workspace_id);

--
-- Name: users_email_lower_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_lower_key ON public.users USING btree (lower(email));

--
-- Name: workspace_members_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX workspace_members_user_idx ON public.workspace_members USING btree (user_id);

--
-- Name: pgqueuer tg_pgqueuer_changed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER tg_pgqueuer_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON public.pgqueuer FOR EACH STATEMENT EXECUTE FUNCTION public.fn_pgqueuer_changed();

--
-- Name: datasets datasets_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasets
    ADD CONSTRAINT datasets_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: datasets datasets_datasource_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasets
    ADD CONSTRAINT datasets_datasource_id_fkey FOREIGN KEY (datasource_id) REFERENCES public.datasources(id);

--
-- Name: datasets datasets_updated_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasets
    ADD CONSTRAINT datasets_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: datasets datasets_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasets
    ADD CONSTRAINT datasets_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: datasources datasources_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasources
    ADD CONSTRAINT datasources_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: datasources datasources_updated_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasources
    ADD CONSTRAINT datasources_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: datasources datasources_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.datasources
    ADD CONSTRAINT datasources_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: feature_flags feature_flags_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feature_flags
    ADD CONSTRAINT feature_flags_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: feature_flags feature_flags_updated_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feature_flags
    ADD CONSTRAINT feature_flags_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: legacy_routes legacy_routes_updated_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.legacy_routes
    ADD CONSTRAINT legacy_routes_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: page_ops page_ops_actor_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.page_ops
    ADD CONSTRAINT page_ops_actor_fkey FOREIGN KEY (actor) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: page_ops page_ops_page_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.page_ops
    ADD CONSTRAINT page_ops_page_id_fkey FOREIGN KEY (page_id) REFERENCES public.pages(id) ON DELETE CASCADE;

--
-- Name: page_revisions page_revisions_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.page_revisions
    ADD CONSTRAINT page_revisions_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: page_revisions page_revisions_page_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.page_revisions
    ADD CONSTRAINT page_revisions_page_id_fkey FOREIGN KEY (page_id) REFERENCES public.pages(id) ON DELETE CASCADE;

--
-- Name: pages pages_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pages
    ADD CONSTRAINT pages_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: pages pages_updated_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pages
    ADD CONSTRAINT pages_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: pages pages_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pages
    ADD CONSTRAINT pages_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: refresh_tokens refresh_tokens_parent_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refresh_tokens
    ADD CONSTRAINT refresh_tokens_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES public.refresh_tokens(id) ON DELETE SET NULL;

--
-- Name: refresh_tokens refresh_tokens_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refresh_tokens
    ADD CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE CASCADE;

--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

--
-- Name: sync_jobs sync_jobs_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_jobs
    ADD CONSTRAINT sync_jobs_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: sync_jobs sync_jobs_sink_datasource_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_jobs
    ADD CONSTRAINT sync_jobs_sink_datasource_id_fkey FOREIGN KEY (sink_datasource_id) REFERENCES public.datasources(id);

--
-- Name: sync_jobs sync_jobs_source_dataset_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_jobs
    ADD CONSTRAINT sync_jobs_source_dataset_id_fkey FOREIGN KEY (source_dataset_id) REFERENCES public.datasets(id);

--
-- Name: sync_jobs sync_jobs_source_datasource_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_jobs
    ADD CONSTRAINT sync_jobs_source_datasource_id_fkey FOREIGN KEY (source_datasource_id) REFERENCES public.datasources(id);

--
-- Name: sync_jobs sync_jobs_updated_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_jobs
    ADD CONSTRAINT sync_jobs_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: sync_jobs sync_jobs_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_jobs
    ADD CONSTRAINT sync_jobs_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: sync_runs sync_runs_canceled_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_runs
    ADD CONSTRAINT sync_runs_canceled_by_fkey FOREIGN KEY (canceled_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: sync_runs sync_runs_notify_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_runs
    ADD CONSTRAINT sync_runs_notify_user_id_fkey FOREIGN KEY (notify_user_id) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: sync_runs sync_runs_requested_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_runs
    ADD CONSTRAINT sync_runs_requested_by_fkey FOREIGN KEY (requested_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: sync_runs sync_runs_sync_job_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_runs
    ADD CONSTRAINT sync_runs_sync_job_id_fkey FOREIGN KEY (sync_job_id) REFERENCES public.sync_jobs(id) ON DELETE CASCADE;

--
-- Name: sync_runs sync_runs_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_runs
    ADD CONSTRAINT sync_runs_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: workspace_members workspace_members_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workspace_members
    ADD CONSTRAINT workspace_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

--
-- Name: workspace_members workspace_members_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workspace_members
    ADD CONSTRAINT workspace_members_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: workspaces workspaces_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workspaces
    ADD CONSTRAINT workspaces_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- PostgreSQL database dump complete
--

--
-- Applied migrations
--

INSERT INTO public.schema_migrations (version) VALUES
    ('20261121000100'),
    ('20261121000200'),
    ('20261121000300'),
    ('20261121000400'),
    ('20261122000900'),
    ('20261122110000'),
    ('20261122182207'),
    ('20261122192325');
