-- cartera 0.3.0 -> 0.4.0, written by hand: what changed since the 0.3.0
-- release (sql/cartera--0.3.0.sql is frozen).  Every statement here has its
-- twin in sql/cartera.sql or the portfolio scripts; test/upgrade.sql and
-- sql/setup.sql check that an updated database equals a fresh install.
-- What changed (issue 13): the portfolio's own settings; deleted customers
-- take their history along and forget_customer() answers erasure requests;
-- ids are assigned by cartera only and a customer's id never changes; owner
-- changes move open alerts; the jobs' as_of is checked; managers merge
-- duplicates; purchase amounts are checked at the door (C); session defaults
-- against lock stalls.  Issue 15: agent capacity, daily queues and backlog,
-- moot alerts, escalation, the alert history (alert_event), outcomes and
-- holdout groups with the uplift views.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------------
-- 1. New tables, views and columns
------------------------------------------------------------------------------
-- The portfolio's own settings (src/portfolio_setting.c).  What cartera
-- stores and the portfolio-wide thresholds of its jobs follow these, never
-- the settings of whichever session writes: an agent's SET cartera.* changes
-- only her own ad-hoc queries.  A setting without a row has its built-in
-- default; TimeZone without a row is the writing session's (the calendar
-- day of a purchase), and pins the portfolio's calendar when set.
CREATE TABLE cartera.portfolio_setting (
  name   text PRIMARY KEY
           CONSTRAINT portfolio_setting_known CHECK (name IN (
             'cartera.language', 'cartera.lifecycle_mode', 'cartera.at_risk_after', 'cartera.dormant_after',
             'cartera.lost_after', 'cartera.new_window', 'cartera.at_risk_factor', 'cartera.dormant_factor',
             'cartera.clv_lifespan', 'cartera.max_contacts', 'cartera.contact_window', 'cartera.lead_idle_after',
             'cartera.occasion_horizon', 'cartera.daily_capacity', 'cartera.escalate_amber_after',
             'cartera.transaction_model', 'cartera.model_selection', 'cartera.model_holdout', 'cartera.clv_month',
             'TimeZone')),
  value  text NOT NULL
);
COMMENT ON TABLE cartera.portfolio_setting IS
  'the portfolio''s settings, edited by managers: stored states, alerts and the daily job use these values, not the writing session''s (cartera.portfolio_settings shows every one with its default)';
COMMENT ON COLUMN cartera.portfolio_setting.name IS 'a cartera.* setting that changes what is stored, or TimeZone (the calendar of purchase days)';
COMMENT ON COLUMN cartera.portfolio_setting.value IS 'the value, as SET would take it (checked when written)';
CREATE FUNCTION cartera.portfolio_setting_check() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cartera_portfolio_setting_check' LANGUAGE C;
REVOKE EXECUTE ON FUNCTION cartera.portfolio_setting_check() FROM PUBLIC;
COMMENT ON FUNCTION cartera.portfolio_setting_check() IS
  'trigger of cartera.portfolio_setting: the value must be one the setting accepts; every change tells all sessions to read the settings again';
CREATE TRIGGER portfolio_setting_valid BEFORE INSERT OR UPDATE OR DELETE ON cartera.portfolio_setting
  FOR EACH ROW EXECUTE FUNCTION cartera.portfolio_setting_check();
CREATE TRIGGER portfolio_setting_truncated AFTER TRUNCATE ON cartera.portfolio_setting
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.portfolio_setting_check();

-- The built-in defaults are those of src/guc.c (test/portfolio_defects.sql
-- compares them with pg_settings.boot_val).
CREATE VIEW cartera.portfolio_settings WITH (security_invoker = true) AS
  SELECT d.name, coalesce(s.value, d.default_value) AS value, d.default_value, s.name IS NULL AS is_default, d.description
    FROM (VALUES
      ('cartera.language', 'es', 'language of stored alert messages (es, en)'),
      ('cartera.lifecycle_mode', 'fixed', 'fixed thresholds or adaptive to each customer''s purchase rhythm'),
      ('cartera.at_risk_after', '60 days', 'time without purchases after which a customer is at risk'),
      ('cartera.dormant_after', '120 days', 'time without purchases after which a customer is dormant'),
      ('cartera.lost_after', '365 days', 'time without purchases after which a customer is lost'),
      ('cartera.new_window', '30 days', 'a customer whose first purchase is this recent is new'),
      ('cartera.at_risk_factor', '2', 'adaptive mode: at risk after this many mean purchase gaps'),
      ('cartera.dormant_factor', '4', 'adaptive mode: dormant after this many mean purchase gaps'),
      ('cartera.clv_lifespan', '3 years', 'relationship lifespan of the formula CLV stored in customer_state'),
      ('cartera.max_contacts', '3', 'most contact alerts per customer within contact_window'),
      ('cartera.contact_window', '30 days', 'window over which max_contacts is counted'),
      ('cartera.lead_idle_after', '14 days', 'a lead idle this long raises an idle-lead alert'),
      ('cartera.occasion_horizon', '7 days', 'birthdays and occasions this close raise a green alert'),
      ('cartera.daily_capacity', '25', 'alerts an agent can work in a day (cartera.agent.daily_capacity overrides it): the daily job queues that many, the rest waits as backlog'),
      ('cartera.escalate_amber_after', '3 days', 'a queued amber alert overdue by this long turns red (a queued red one overdue goes to the manager; the backlog does not)'),
      ('cartera.transaction_model', 'auto', 'the model refresh() fills predictions from: auto (Pareto/NBD or MBG/NBD by cartera.model_selection), bgnbd, pareto_nbd or mbgnbd'),
      ('cartera.model_selection', 'bic', 'how auto chooses: bic, aic, or holdout (lowest error predicting the last cartera.model_holdout)'),
      ('cartera.model_holdout', '26 weeks', 'the period held out when cartera.model_selection = holdout'),
      ('cartera.clv_month', '1 month', 'the month of the stored predicted CLV: 1 month (calendar months from as_of) or a length of 28 to 31 days (30 days: lifetimes)'),
      ('TimeZone', NULL, 'calendar of purchase days; NULL: the writing session''s TimeZone')
    ) d(name, default_value, description)
    LEFT JOIN cartera.portfolio_setting s ON s.name = d.name;
COMMENT ON VIEW cartera.portfolio_settings IS
  'every portfolio setting with the value maintenance uses: the row of cartera.portfolio_setting, else the built-in default';
COMMENT ON COLUMN cartera.portfolio_settings.name IS 'the setting';
COMMENT ON COLUMN cartera.portfolio_settings.value IS 'the value stored states, alerts and the daily job use';
COMMENT ON COLUMN cartera.portfolio_settings.default_value IS 'the built-in default (a NULL TimeZone: the writing session''s)';
COMMENT ON COLUMN cartera.portfolio_settings.is_default IS 'true when cartera.portfolio_setting has no row for it';
COMMENT ON COLUMN cartera.portfolio_settings.description IS 'what it changes';

-- Called first by every maintenance function (a DECLARE initialiser in
-- plpgsql): sets the portfolio's values until that function returns.  It
-- changes no data; what it sets lasts until the innermost calling function
-- with a SET clause returns (or the transaction ends, called at top level).
CREATE FUNCTION cartera.use_portfolio_settings() RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_use_portfolio_settings' LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE EXECUTE ON FUNCTION cartera.use_portfolio_settings() FROM PUBLIC;
COMMENT ON FUNCTION cartera.use_portfolio_settings() IS
  'set every portfolio setting (cartera.portfolio_settings) until the calling function returns; maintenance calls it first so that stored values never follow the writing session''s settings';

-- One setting's value for the portfolio (read by explain()).
CREATE FUNCTION cartera.portfolio_setting_value(setting text) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$ SELECT s.value FROM cartera.portfolio_settings s WHERE s.name = setting $fn$;
COMMENT ON FUNCTION cartera.portfolio_setting_value(text) IS 'the value of one portfolio setting (cartera.portfolio_settings); NULL for an unknown name';

SELECT pg_catalog.pg_extension_config_dump('cartera.portfolio_setting', '');
COMMENT ON COLUMN cartera.customer_state.clv IS 'seed formula CLV with the portfolio''s lifespan (cartera.clv_lifespan in cartera.portfolio_settings)';

-- deferred maintenance (issue 14): every source starts in immediate mode
ALTER TABLE cartera.purchase_source ADD COLUMN mode text NOT NULL DEFAULT 'immediate'
  CONSTRAINT purchase_source_mode_known CHECK (mode IN ('immediate', 'deferred'));
COMMENT ON COLUMN cartera.purchase_source.mode IS
  'immediate: each purchase statement updates states and raises alerts itself; deferred: it only queues its changes (cartera.deferred_change) for the background worker or cartera.catch_up() (cartera.set_purchase_mode())';
SELECT pg_catalog.pg_extension_config_dump('cartera.purchase_source', 'WHERE source <> ''cartera.purchase''::regclass OR mode <> ''immediate''');

ALTER TABLE cartera.customer ADD COLUMN forgotten_at timestamptz;
COMMENT ON COLUMN cartera.customer.forgotten_at IS 'when cartera.forget_customer() erased the customer''s personal data (NULL: never); no alert is raised for them again';
COMMENT ON COLUMN cartera.customer_state.p_alive IS 'purchase probability: P(alive) under the transaction model of the last refresh() (portfolio_model.transaction_model)';
COMMENT ON COLUMN cartera.customer_state.expected_purchases_12m IS 'expected repeat purchases in the next 52 weeks under the transaction model of the last refresh()';
COMMENT ON COLUMN cartera.customer_state.clv_predicted_12m IS 'transaction model + Gamma-Gamma CLV over the next 12 months (cartera.clv_month: calendar months by default), 1 % monthly discount';

COMMENT ON COLUMN cartera.customer_overview.purchase_probability IS 'probability that the customer is still active: P(alive) under the transaction model of the last refresh() (portfolio_model.transaction_model)';
COMMENT ON COLUMN cartera.customer_overview.expected_purchases_12m IS 'expected repeat purchases in the next 12 months (the transaction model of the last refresh())';
COMMENT ON COLUMN cartera.customer_overview.clv_predicted_12m IS 'predicted value of the next 12 months (transaction model + Gamma-Gamma, 1 % monthly discount)';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_purchase_probability IS 'average probability of being active (P(alive) under the transaction model of the last refresh())';

-- The fits' uncertainty (issue 16): a standard error per parameter, AIC and
-- BIC at the end of the result types (values stored by refresh() in
-- portfolio_model before the update read NULL there until the next refresh).
ALTER TYPE cartera.bgnbd_params
  ADD ATTRIBUTE se_r double precision, ADD ATTRIBUTE se_alpha double precision,
  ADD ATTRIBUTE se_a double precision, ADD ATTRIBUTE se_b double precision,
  ADD ATTRIBUTE aic double precision, ADD ATTRIBUTE bic double precision,
  ADD ATTRIBUTE log_covariance double precision[];
COMMENT ON COLUMN cartera.bgnbd_params.se_r IS 'standard error of r (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.bgnbd_params.se_alpha IS 'standard error of alpha';
COMMENT ON COLUMN cartera.bgnbd_params.se_a IS 'standard error of a';
COMMENT ON COLUMN cartera.bgnbd_params.se_b IS 'standard error of b';
COMMENT ON COLUMN cartera.bgnbd_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 4)';
COMMENT ON COLUMN cartera.bgnbd_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';
COMMENT ON COLUMN cartera.bgnbd_params.log_covariance IS 'covariance matrix of ln(r, alpha, a, b), 16 numbers by rows: what the prediction intervals use (NULL when the fit has none)';
ALTER TYPE cartera.gamma_gamma_params
  ADD ATTRIBUTE se_p double precision, ADD ATTRIBUTE se_q double precision,
  ADD ATTRIBUTE se_gamma double precision,
  ADD ATTRIBUTE aic double precision, ADD ATTRIBUTE bic double precision;
COMMENT ON COLUMN cartera.gamma_gamma_params.se_p IS 'standard error of p (observed information at the estimate)';
COMMENT ON COLUMN cartera.gamma_gamma_params.se_q IS 'standard error of q';
COMMENT ON COLUMN cartera.gamma_gamma_params.se_gamma IS 'standard error of gamma';
COMMENT ON COLUMN cartera.gamma_gamma_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 3)';
COMMENT ON COLUMN cartera.gamma_gamma_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';

-- BEGIN models
------------------------------------------------------------------------------
-- 0.4.0: the other customer-base models of the field, each with its
-- uncertainty (docs/predictive.md): Pareto/NBD and MBG/NBD on the same
-- (x, t_x, T) histogram as BG/NBD, BG/BB for discrete opportunities, the
-- shifted-beta-geometric for contracts.  New objects only: the whole file is
-- the "models" block of the upgrade from 0.3.0 (tools/refresh-upgrade).
-- Every fit's result type ends with log_likelihood, customers, iterations,
-- converged (and time_unit for the continuous-time models), then one se_*
-- per parameter, aic and bic, as bgnbd_params does since 0.4.0.
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Pareto/NBD and MBG/NBD (src/pareto_nbd.c, src/mbgnbd.c, src/btyd_agg.c, src/btyd_predict.c)
------------------------------------------------------------------------------
-- The same (x, t_x, T) histogram and transition function as bgnbd_fit, and
-- the same prediction functions, overloaded on the parameter type.

CREATE TYPE cartera.pareto_nbd_params AS (
  r              double precision,
  alpha          double precision,
  s              double precision,
  beta           double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  time_unit      text,
  se_r           double precision,
  se_alpha       double precision,
  se_s           double precision,
  se_beta        double precision,
  aic            double precision,
  bic            double precision,
  log_covariance double precision[]
);
COMMENT ON TYPE cartera.pareto_nbd_params IS
  'Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): purchase rate ~ Gamma(r, alpha) while alive, exponential lifetime with rate ~ Gamma(s, beta); alpha and beta are per time_unit';
COMMENT ON COLUMN cartera.pareto_nbd_params.r IS 'shape of the Gamma distribution of purchase rates while alive';
COMMENT ON COLUMN cartera.pareto_nbd_params.alpha IS 'rate parameter of the Gamma distribution of purchase rates, in time_unit';
COMMENT ON COLUMN cartera.pareto_nbd_params.s IS 'shape of the Gamma distribution of dropout rates';
COMMENT ON COLUMN cartera.pareto_nbd_params.beta IS 'rate parameter of the Gamma distribution of dropout rates, in time_unit';
COMMENT ON COLUMN cartera.pareto_nbd_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.pareto_nbd_params.customers IS 'customers the model was fitted on';
COMMENT ON COLUMN cartera.pareto_nbd_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.pareto_nbd_params.converged IS 'whether the optimiser met its convergence test';
COMMENT ON COLUMN cartera.pareto_nbd_params.time_unit IS 'days or weeks: the unit of t_x, T and t; NULL when not stated';
COMMENT ON COLUMN cartera.pareto_nbd_params.se_r IS 'standard error of r (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.pareto_nbd_params.se_alpha IS 'standard error of alpha (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.pareto_nbd_params.se_s IS 'standard error of s (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.pareto_nbd_params.se_beta IS 'standard error of beta (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.pareto_nbd_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 4)';
COMMENT ON COLUMN cartera.pareto_nbd_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';
COMMENT ON COLUMN cartera.pareto_nbd_params.log_covariance IS 'covariance matrix of ln(r, alpha, s, beta), 16 numbers by rows: what the prediction intervals use (NULL when the fit has none)';

CREATE FUNCTION cartera.pareto_nbd_fit_finalfn(internal) RETURNS cartera.pareto_nbd_params
  AS 'MODULE_PATHNAME', 'cartera_pareto_nbd_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.pareto_nbd_fit_finalfn(internal) IS 'final function of pareto_nbd_fit(): maximum likelihood on the (x, t_x, T) histogram';
CREATE AGGREGATE cartera.pareto_nbd_fit(frequency integer, t_x double precision, "T" double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(integer, double precision, double precision) IS
  'fit Pareto/NBD by maximum likelihood to (frequency, t_x, T) rows in one unstated time unit';
CREATE AGGREGATE cartera.pareto_nbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(integer, double precision, double precision, text) IS
  'fit Pareto/NBD by maximum likelihood to (frequency, t_x, T) rows measured in time_unit (days or weeks)';
CREATE AGGREGATE cartera.pareto_nbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(integer, double precision, double precision, text, double precision) IS
  'fit Pareto/NBD with an L2 penalty on the parameters (lifetimes penalizer_coef)';
CREATE AGGREGATE cartera.pareto_nbd_fit(summary cartera.rfm_summary, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(cartera.rfm_summary, text) IS
  'fit Pareto/NBD to rfm() summaries, converting their day counts to time_unit (days or weeks); leads are skipped';
CREATE AGGREGATE cartera.pareto_nbd_fit(summary cartera.rfm_summary, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(cartera.rfm_summary, text, double precision) IS
  'fit Pareto/NBD to rfm() summaries with an L2 penalty on the parameters';
-- shards: the state of bgnbd_fit_partial() is the (x, t_x, T) histogram every
-- transaction model fits on, so one partial state per shard serves all three
CREATE AGGREGATE cartera.pareto_nbd_fit_merge(state bytea) (
  SFUNC = cartera.bgnbd_fit_merge_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit_merge(bytea) IS
  'second step: combines bgnbd_fit_partial() states (NULLs skipped) into the cartera.pareto_nbd_params that pareto_nbd_fit() gives over all their rows';

CREATE FUNCTION cartera.pareto_nbd_params(r double precision, alpha double precision,
                                   s double precision, beta double precision,
                                   time_unit text DEFAULT NULL)
  RETURNS cartera.pareto_nbd_params
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_params_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.pareto_nbd_params(double precision, double precision, double precision, double precision, text) IS
  'Pareto/NBD parameters fitted elsewhere (lifetimes, BTYD, CLVTools, pymc-marketing); alpha is per time_unit';

CREATE FUNCTION cartera.expected_purchases(params cartera.pareto_nbd_params, t double precision,
                                           frequency double precision, t_x double precision,
                                           "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.pareto_nbd_params, double precision, double precision, double precision, double precision) IS
  'Pareto/NBD: expected repeat purchases in the next t time units given frequency, t_x, T (all in the model''s time unit)';
CREATE FUNCTION cartera.expected_purchases(params cartera.pareto_nbd_params, t double precision,
                                           summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.pareto_nbd_params, double precision, cartera.rfm_summary, text) IS
  'Pareto/NBD: expected repeat purchases in the next t time units of an rfm() summary; time_unit must be the model''s';
CREATE FUNCTION cartera.expected_purchases_new(params cartera.pareto_nbd_params, t double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_new(cartera.pareto_nbd_params, double precision) IS
  'Pareto/NBD: expected repeat purchases in the first t time units of a customer just acquired';
CREATE FUNCTION cartera.p_alive(params cartera.pareto_nbd_params, frequency double precision,
                                t_x double precision, "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.pareto_nbd_params, double precision, double precision, double precision) IS
  'Pareto/NBD: probability that the customer is still active (in [0, 1], below 1 also for one-time buyers) given frequency, t_x, T';
CREATE FUNCTION cartera.p_alive(params cartera.pareto_nbd_params, summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.pareto_nbd_params, cartera.rfm_summary, text) IS
  'Pareto/NBD: probability that the customer of an rfm() summary is still active; time_unit must be the model''s';
CREATE FUNCTION cartera.probability_of_purchases(params cartera.pareto_nbd_params, t double precision, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.probability_of_purchases(cartera.pareto_nbd_params, double precision, integer) IS
  'Pareto/NBD: P(X(t) = n), the probability that a customer just acquired makes n repeat purchases in t time units';
CREATE FUNCTION cartera.clv_predicted(model cartera.pareto_nbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.pareto_nbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision) IS
  'Pareto/NBD with Gamma-Gamma: predicted CLV over the next months (30-day months), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.pareto_nbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.pareto_nbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision) IS
  'Pareto/NBD with Gamma-Gamma: predicted CLV of the customer of an rfm() summary over the next months, discounted monthly';

CREATE TYPE cartera.mbgnbd_params AS (
  r              double precision,
  alpha          double precision,
  a              double precision,
  b              double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  time_unit      text,
  se_r           double precision,
  se_alpha       double precision,
  se_a           double precision,
  se_b           double precision,
  aic            double precision,
  bic            double precision,
  log_covariance double precision[]
);
COMMENT ON TYPE cartera.mbgnbd_params IS
  'MBG/NBD model (Batislam, Denizel & Filiztekin 2007; lifetimes ModifiedBetaGeoFitter): BG/NBD whose customers may drop out after the first purchase too; alpha is per time_unit';
COMMENT ON COLUMN cartera.mbgnbd_params.r IS 'shape of the Gamma distribution of purchase rates';
COMMENT ON COLUMN cartera.mbgnbd_params.alpha IS 'rate parameter of the Gamma distribution of purchase rates, in time_unit';
COMMENT ON COLUMN cartera.mbgnbd_params.a IS 'first shape of the Beta distribution of dropout probabilities (after every purchase, the first included)';
COMMENT ON COLUMN cartera.mbgnbd_params.b IS 'second shape of the Beta distribution of dropout probabilities';
COMMENT ON COLUMN cartera.mbgnbd_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.mbgnbd_params.customers IS 'customers the model was fitted on';
COMMENT ON COLUMN cartera.mbgnbd_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.mbgnbd_params.converged IS 'whether the optimiser met its convergence test';
COMMENT ON COLUMN cartera.mbgnbd_params.time_unit IS 'days or weeks: the unit of t_x, T and t; NULL when not stated';
COMMENT ON COLUMN cartera.mbgnbd_params.se_r IS 'standard error of r (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.mbgnbd_params.se_alpha IS 'standard error of alpha (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.mbgnbd_params.se_a IS 'standard error of a (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.mbgnbd_params.se_b IS 'standard error of b (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.mbgnbd_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 4)';
COMMENT ON COLUMN cartera.mbgnbd_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';
COMMENT ON COLUMN cartera.mbgnbd_params.log_covariance IS 'covariance matrix of ln(r, alpha, a, b), 16 numbers by rows: what the prediction intervals use (NULL when the fit has none)';

CREATE FUNCTION cartera.mbgnbd_fit_finalfn(internal) RETURNS cartera.mbgnbd_params
  AS 'MODULE_PATHNAME', 'cartera_mbgnbd_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.mbgnbd_fit_finalfn(internal) IS 'final function of mbgnbd_fit(): maximum likelihood on the (x, t_x, T) histogram';
CREATE AGGREGATE cartera.mbgnbd_fit(frequency integer, t_x double precision, "T" double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(integer, double precision, double precision) IS
  'fit MBG/NBD by maximum likelihood to (frequency, t_x, T) rows in one unstated time unit';
CREATE AGGREGATE cartera.mbgnbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(integer, double precision, double precision, text) IS
  'fit MBG/NBD by maximum likelihood to (frequency, t_x, T) rows measured in time_unit (days or weeks)';
CREATE AGGREGATE cartera.mbgnbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(integer, double precision, double precision, text, double precision) IS
  'fit MBG/NBD with an L2 penalty on the parameters (lifetimes penalizer_coef)';
CREATE AGGREGATE cartera.mbgnbd_fit(summary cartera.rfm_summary, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(cartera.rfm_summary, text) IS
  'fit MBG/NBD to rfm() summaries, converting their day counts to time_unit (days or weeks); leads are skipped';
CREATE AGGREGATE cartera.mbgnbd_fit(summary cartera.rfm_summary, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(cartera.rfm_summary, text, double precision) IS
  'fit MBG/NBD to rfm() summaries with an L2 penalty on the parameters';
-- shards: the state of bgnbd_fit_partial() is the (x, t_x, T) histogram every
-- transaction model fits on, so one partial state per shard serves all three
CREATE AGGREGATE cartera.mbgnbd_fit_merge(state bytea) (
  SFUNC = cartera.bgnbd_fit_merge_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit_merge(bytea) IS
  'second step: combines bgnbd_fit_partial() states (NULLs skipped) into the cartera.mbgnbd_params that mbgnbd_fit() gives over all their rows';

CREATE FUNCTION cartera.mbgnbd_params(r double precision, alpha double precision,
                                   a double precision, b double precision,
                                   time_unit text DEFAULT NULL)
  RETURNS cartera.mbgnbd_params
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_params_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.mbgnbd_params(double precision, double precision, double precision, double precision, text) IS
  'MBG/NBD parameters fitted elsewhere (lifetimes, BTYD, CLVTools, pymc-marketing); alpha is per time_unit';

CREATE FUNCTION cartera.expected_purchases(params cartera.mbgnbd_params, t double precision,
                                           frequency double precision, t_x double precision,
                                           "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.mbgnbd_params, double precision, double precision, double precision, double precision) IS
  'MBG/NBD: expected repeat purchases in the next t time units given frequency, t_x, T (all in the model''s time unit)';
CREATE FUNCTION cartera.expected_purchases(params cartera.mbgnbd_params, t double precision,
                                           summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.mbgnbd_params, double precision, cartera.rfm_summary, text) IS
  'MBG/NBD: expected repeat purchases in the next t time units of an rfm() summary; time_unit must be the model''s';
CREATE FUNCTION cartera.expected_purchases_new(params cartera.mbgnbd_params, t double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_new(cartera.mbgnbd_params, double precision) IS
  'MBG/NBD: expected repeat purchases in the first t time units of a customer just acquired';
CREATE FUNCTION cartera.p_alive(params cartera.mbgnbd_params, frequency double precision,
                                t_x double precision, "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.mbgnbd_params, double precision, double precision, double precision) IS
  'MBG/NBD: probability that the customer is still active (in [0, 1], below 1 also for one-time buyers) given frequency, t_x, T';
CREATE FUNCTION cartera.p_alive(params cartera.mbgnbd_params, summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.mbgnbd_params, cartera.rfm_summary, text) IS
  'MBG/NBD: probability that the customer of an rfm() summary is still active; time_unit must be the model''s';
CREATE FUNCTION cartera.probability_of_purchases(params cartera.mbgnbd_params, t double precision, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.probability_of_purchases(cartera.mbgnbd_params, double precision, integer) IS
  'MBG/NBD: P(X(t) = n), the probability that a customer just acquired makes n repeat purchases in t time units';
CREATE FUNCTION cartera.clv_predicted(model cartera.mbgnbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.mbgnbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision) IS
  'MBG/NBD with Gamma-Gamma: predicted CLV over the next months (30-day months), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.mbgnbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.mbgnbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision) IS
  'MBG/NBD with Gamma-Gamma: predicted CLV of the customer of an rfm() summary over the next months, discounted monthly';


-- The month of the discounted CLV made explicit (issue 16): the forms above
-- count 30-day months (lifetimes' customer_lifetime_value); these take the
-- month: a fixed length of 28 to 31 days ('30 days 10:30' is the mean
-- Gregorian month, 30.4375 days, pymc-marketing's since its issue 2749) or
-- '1 month', calendar months from the summary's as_of.
CREATE FUNCTION cartera.clv_predicted(model cartera.bgnbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.bgnbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision, interval) IS
  'BG/NBD with Gamma-Gamma: predicted CLV over the next months of the given length (28 to 31 days), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.bgnbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.bgnbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision, interval) IS
  'BG/NBD with Gamma-Gamma: predicted CLV of an rfm() summary over the next months (a length of 28 to 31 days, or ''1 month'': calendar months from its as_of), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.pareto_nbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.pareto_nbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision, interval) IS
  'Pareto/NBD with Gamma-Gamma: predicted CLV over the next months of the given length (28 to 31 days), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.pareto_nbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.pareto_nbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision, interval) IS
  'Pareto/NBD with Gamma-Gamma: predicted CLV of an rfm() summary over the next months (a length of 28 to 31 days, or ''1 month'': calendar months from its as_of), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.mbgnbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.mbgnbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision, interval) IS
  'MBG/NBD with Gamma-Gamma: predicted CLV over the next months of the given length (28 to 31 days), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.mbgnbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.mbgnbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision, interval) IS
  'MBG/NBD with Gamma-Gamma: predicted CLV of an rfm() summary over the next months (a length of 28 to 31 days, or ''1 month'': calendar months from its as_of), discounted monthly';

-- Prediction intervals by the delta method (src/interval.c): the fit's
-- covariance of ln(params) carried through the prediction's gradient, on
-- the logit scale for P(alive) and the log scale for expected purchases.
CREATE TYPE cartera.prediction_interval AS (
  estimate  double precision,
  std_error double precision,
  lower     double precision,
  upper     double precision,
  level     double precision
);
COMMENT ON TYPE cartera.prediction_interval IS
  'a prediction with its delta-method standard error and interval (symmetric on the logit scale for probabilities, the log scale for counts)';
COMMENT ON COLUMN cartera.prediction_interval.estimate IS 'the prediction at the estimate (what p_alive() or expected_purchases() return)';
COMMENT ON COLUMN cartera.prediction_interval.std_error IS 'delta-method standard error of the prediction, from the fit''s log_covariance';
COMMENT ON COLUMN cartera.prediction_interval.lower IS 'lower end of the interval';
COMMENT ON COLUMN cartera.prediction_interval.upper IS 'upper end of the interval';
COMMENT ON COLUMN cartera.prediction_interval.level IS 'the interval''s confidence level (0.95: 95 %)';

CREATE FUNCTION cartera.p_alive_interval(params cartera.bgnbd_params, frequency double precision,
                                         t_x double precision, "T" double precision,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.bgnbd_params, double precision, double precision, double precision, double precision) IS
  'BG/NBD: P(alive) with its delta-method interval at level (needs a fitted model''s log_covariance)';
CREATE FUNCTION cartera.p_alive_interval(params cartera.bgnbd_params, summary cartera.rfm_summary, time_unit text,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.bgnbd_params, cartera.rfm_summary, text, double precision) IS
  'BG/NBD: P(alive) of an rfm() summary with its delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.bgnbd_params, t double precision,
                                                    frequency double precision, t_x double precision,
                                                    "T" double precision, level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.bgnbd_params, double precision, double precision, double precision, double precision, double precision) IS
  'BG/NBD: expected repeat purchases in the next t time units with their delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.bgnbd_params, t double precision,
                                                    summary cartera.rfm_summary, time_unit text,
                                                    level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.bgnbd_params, double precision, cartera.rfm_summary, text, double precision) IS
  'BG/NBD: expected repeat purchases of an rfm() summary in the next t time units with their delta-method interval';

CREATE FUNCTION cartera.p_alive_interval(params cartera.pareto_nbd_params, frequency double precision,
                                         t_x double precision, "T" double precision,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.pareto_nbd_params, double precision, double precision, double precision, double precision) IS
  'Pareto/NBD: P(alive) with its delta-method interval at level (needs a fitted model''s log_covariance)';
CREATE FUNCTION cartera.p_alive_interval(params cartera.pareto_nbd_params, summary cartera.rfm_summary, time_unit text,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.pareto_nbd_params, cartera.rfm_summary, text, double precision) IS
  'Pareto/NBD: P(alive) of an rfm() summary with its delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.pareto_nbd_params, t double precision,
                                                    frequency double precision, t_x double precision,
                                                    "T" double precision, level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.pareto_nbd_params, double precision, double precision, double precision, double precision, double precision) IS
  'Pareto/NBD: expected repeat purchases in the next t time units with their delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.pareto_nbd_params, t double precision,
                                                    summary cartera.rfm_summary, time_unit text,
                                                    level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.pareto_nbd_params, double precision, cartera.rfm_summary, text, double precision) IS
  'Pareto/NBD: expected repeat purchases of an rfm() summary in the next t time units with their delta-method interval';

CREATE FUNCTION cartera.p_alive_interval(params cartera.mbgnbd_params, frequency double precision,
                                         t_x double precision, "T" double precision,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.mbgnbd_params, double precision, double precision, double precision, double precision) IS
  'MBG/NBD: P(alive) with its delta-method interval at level (needs a fitted model''s log_covariance)';
CREATE FUNCTION cartera.p_alive_interval(params cartera.mbgnbd_params, summary cartera.rfm_summary, time_unit text,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.mbgnbd_params, cartera.rfm_summary, text, double precision) IS
  'MBG/NBD: P(alive) of an rfm() summary with its delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.mbgnbd_params, t double precision,
                                                    frequency double precision, t_x double precision,
                                                    "T" double precision, level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.mbgnbd_params, double precision, double precision, double precision, double precision, double precision) IS
  'MBG/NBD: expected repeat purchases in the next t time units with their delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.mbgnbd_params, t double precision,
                                                    summary cartera.rfm_summary, time_unit text,
                                                    level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.mbgnbd_params, double precision, cartera.rfm_summary, text, double precision) IS
  'MBG/NBD: expected repeat purchases of an rfm() summary in the next t time units with their delta-method interval';

------------------------------------------------------------------------------
-- BG/BB: discrete-time opportunities (src/bgbb.c, src/bgbb_sql.c)
------------------------------------------------------------------------------

CREATE TYPE cartera.bgbb_summary AS (
  frequency integer,
  recency   integer,
  n         integer
);
COMMENT ON TYPE cartera.bgbb_summary IS
  'one customer''s history on a grid of discrete transaction opportunities (BG/BB): what cartera.bgbb_history() returns and cartera.bgbb_fit() reads';
COMMENT ON COLUMN cartera.bgbb_summary.frequency IS 'x: opportunities after the first purchase''s (the acquisition, opportunity 0) with a purchase, 0..n';
COMMENT ON COLUMN cartera.bgbb_summary.recency IS 't_x: the last opportunity with a purchase, counted from the acquisition (1..n); 0 when frequency is 0';
COMMENT ON COLUMN cartera.bgbb_summary.n IS 'complete opportunities observed after the acquisition';

CREATE TYPE cartera.bgbb_params AS (
  alpha          double precision,
  beta           double precision,
  gamma          double precision,
  delta          double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  se_alpha       double precision,
  se_beta        double precision,
  se_gamma       double precision,
  se_delta       double precision,
  aic            double precision,
  bic            double precision
);
COMMENT ON TYPE cartera.bgbb_params IS
  'BG/BB model (Fader, Hardie & Shang 2010): at each discrete opportunity an alive customer transacts with probability p ~ Beta(alpha, beta) and, before it, dies with probability theta ~ Beta(gamma, delta)';
COMMENT ON COLUMN cartera.bgbb_params.alpha IS 'first shape of the Beta distribution of transaction probabilities p';
COMMENT ON COLUMN cartera.bgbb_params.beta IS 'second shape of the Beta distribution of transaction probabilities p';
COMMENT ON COLUMN cartera.bgbb_params.gamma IS 'first shape of the Beta distribution of dropout probabilities theta';
COMMENT ON COLUMN cartera.bgbb_params.delta IS 'second shape of the Beta distribution of dropout probabilities theta';
COMMENT ON COLUMN cartera.bgbb_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.bgbb_params.customers IS 'customers the model was fitted on (those with n >= 1)';
COMMENT ON COLUMN cartera.bgbb_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.bgbb_params.converged IS 'whether the optimiser met its convergence test';
COMMENT ON COLUMN cartera.bgbb_params.se_alpha IS 'standard error of alpha (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.bgbb_params.se_beta IS 'standard error of beta';
COMMENT ON COLUMN cartera.bgbb_params.se_gamma IS 'standard error of gamma';
COMMENT ON COLUMN cartera.bgbb_params.se_delta IS 'standard error of delta';
COMMENT ON COLUMN cartera.bgbb_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 4)';
COMMENT ON COLUMN cartera.bgbb_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';

-- bgbb_history(): a purchase log to (frequency, recency, n) on a period grid
CREATE FUNCTION cartera.bgbb_history_transfn(internal, timestamptz, timestamptz, interval, timestamptz) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_transfn' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_transfn(internal, timestamptz, timestamptz, interval, timestamptz) IS
  'transition function of bgbb_history(): the period of one purchase';
CREATE FUNCTION cartera.bgbb_history_combinefn(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_combinefn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_combinefn(internal, internal) IS
  'merges two partial bgbb_history() states';
CREATE FUNCTION cartera.bgbb_history_serialfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_serialfn(internal) IS
  'serializes a bgbb_history() state for parallel workers';
CREATE FUNCTION cartera.bgbb_history_deserialfn(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_deserialfn(bytea, internal) IS
  'deserializes a bgbb_history() state';
CREATE FUNCTION cartera.bgbb_history_finalfn(internal) RETURNS cartera.bgbb_summary
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_finalfn(internal) IS
  'final function of bgbb_history(): frequency, recency and n from the periods with a purchase';
CREATE AGGREGATE cartera.bgbb_history(purchased_at timestamptz, origin timestamptz, period interval, as_of timestamptz) (
  SFUNC = cartera.bgbb_history_transfn,
  FINALFUNC = cartera.bgbb_history_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.bgbb_history_combinefn,
  SERIALFUNC = cartera.bgbb_history_serialfn,
  DESERIALFUNC = cartera.bgbb_history_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_history(timestamptz, timestamptz, interval, timestamptz) IS
  'one customer''s purchases as a BG/BB history: periods [origin + k period, origin + (k+1) period), the first purchase''s period is the acquisition, n the complete periods after it up to as_of; purchases after as_of are ignored';

-- bgbb_fit(): maximum likelihood on the shared fit histogram (kind BG/BB)
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any") IS 'transition function of bgbb_fit(summary)';
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any") IS 'transition function of bgbb_fit(summary, penalizer)';
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any") IS 'transition function of bgbb_fit(frequency, recency, n)';
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any", "any") IS 'transition function of bgbb_fit(frequency, recency, n, customers or penalizer)';
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any", "any", "any") IS 'transition function of bgbb_fit(frequency, recency, n, customers, penalizer)';
CREATE FUNCTION cartera.bgbb_fit_finalfn(internal) RETURNS cartera.bgbb_params
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_fit_finalfn(internal) IS 'final function of bgbb_fit(): maximum likelihood on the histogram';

CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer) IS
  'fit BG/BB by maximum likelihood to one (frequency, recency, n) row per customer; rows with n = 0 carry no information and are skipped';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, double precision) IS
  'fit BG/BB with an L2 penalty on the parameters (lifetimes penalizer_coef)';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, customers bigint) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, bigint) IS
  'fit BG/BB to a summary table: each row is a history and the number of customers with it (NULL count: row skipped)';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, customers bigint, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, bigint, double precision) IS
  'fit BG/BB to a summary table of histories with customer counts, with an L2 penalty on the parameters';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, customers integer) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, integer) IS
  'fit BG/BB to a summary table whose customer counts are integer (a count written as an integer is never taken for a penalizer)';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, customers integer, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, integer, double precision) IS
  'fit BG/BB to a summary table with integer customer counts, with an L2 penalty on the parameters';
CREATE AGGREGATE cartera.bgbb_fit(summary cartera.bgbb_summary) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(cartera.bgbb_summary) IS
  'fit BG/BB to bgbb_history() summaries (NULL summaries and n = 0 skipped)';
CREATE AGGREGATE cartera.bgbb_fit(summary cartera.bgbb_summary, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(cartera.bgbb_summary, double precision) IS
  'fit BG/BB to bgbb_history() summaries with an L2 penalty on the parameters';

-- the two-step form for shards (src/partial_agg.c)
CREATE FUNCTION cartera.bgbb_fit_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_fit_partial_finalfn(internal) IS
  'final function of bgbb_fit_partial(): the state of bgbb_fit() serialized, with a header and checksum';
CREATE FUNCTION cartera.bgbb_fit_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_fit_merge_transfn(internal, bytea) IS
  'transition function of bgbb_fit_merge(): checks, deserializes and combines one bgbb_fit_partial() state';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer) IS
  'first step of bgbb_fit(integer, integer, integer) on a shard: its state as bytea, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, double precision) IS
  'first step of bgbb_fit(integer, integer, integer, double precision) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, customers bigint) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, bigint) IS
  'first step of bgbb_fit(integer, integer, integer, bigint) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, customers bigint, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, bigint, double precision) IS
  'first step of bgbb_fit(integer, integer, integer, bigint, double precision) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, customers integer) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, integer) IS
  'first step of bgbb_fit(integer, integer, integer, integer) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, customers integer, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, integer, double precision) IS
  'first step of bgbb_fit(integer, integer, integer, integer, double precision) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(summary cartera.bgbb_summary) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(cartera.bgbb_summary) IS
  'first step of bgbb_fit(cartera.bgbb_summary) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(summary cartera.bgbb_summary, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(cartera.bgbb_summary, double precision) IS
  'first step of bgbb_fit(cartera.bgbb_summary, double precision) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_merge(state bytea) (
  SFUNC = cartera.bgbb_fit_merge_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_merge(bytea) IS
  'second step: combines bgbb_fit_partial() states (NULLs skipped) into the cartera.bgbb_params that bgbb_fit() gives over all their rows';

-- parameters and predictions
CREATE FUNCTION cartera.bgbb_params(alpha double precision, beta double precision,
                                    gamma double precision, delta double precision)
  RETURNS cartera.bgbb_params
  AS 'MODULE_PATHNAME', 'cartera_bgbb_params_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_params(double precision, double precision, double precision, double precision) IS
  'BG/BB parameters fitted elsewhere (lifetimes, BTYD, CLVTools, a spreadsheet)';
CREATE FUNCTION cartera.p_alive(params cartera.bgbb_params, frequency integer, recency integer, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.bgbb_params, integer, integer, integer) IS
  'BG/BB: probability that the customer is alive at the next opportunity n + 1 given frequency, recency, n';
CREATE FUNCTION cartera.p_alive(params cartera.bgbb_params, summary cartera.bgbb_summary)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_p_alive_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.bgbb_params, cartera.bgbb_summary) IS
  'BG/BB: probability that the customer of a bgbb_history() summary is alive at the next opportunity';
CREATE FUNCTION cartera.expected_purchases(params cartera.bgbb_params, future_opportunities integer,
                                           frequency integer, recency integer, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.bgbb_params, integer, integer, integer, integer) IS
  'BG/BB: expected transactions in the next future_opportunities opportunities given frequency, recency, n';
CREATE FUNCTION cartera.expected_purchases(params cartera.bgbb_params, future_opportunities integer,
                                           summary cartera.bgbb_summary)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_expected_purchases_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.bgbb_params, integer, cartera.bgbb_summary) IS
  'BG/BB: expected transactions in the next future_opportunities opportunities of a bgbb_history() summary';
CREATE FUNCTION cartera.expected_purchases_new(params cartera.bgbb_params, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_new(cartera.bgbb_params, integer) IS
  'BG/BB: expected transactions in the first n opportunities after a customer''s acquisition';
CREATE FUNCTION cartera.probability_of_purchases(params cartera.bgbb_params, n integer, frequency integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.probability_of_purchases(cartera.bgbb_params, integer, integer) IS
  'BG/BB: P(X(n) = frequency), probability that a customer just acquired transacts at exactly frequency of the next n opportunities';

------------------------------------------------------------------------------
-- shifted-beta-geometric: contractual retention (src/sbg.c, src/sbg_sql.c)
------------------------------------------------------------------------------

CREATE TYPE cartera.sbg_params AS (
  alpha          double precision,
  beta           double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  se_alpha       double precision,
  se_beta        double precision,
  aic            double precision,
  bic            double precision
);
COMMENT ON TYPE cartera.sbg_params IS
  'shifted-beta-geometric model of contractual retention (Fader & Hardie 2007): churn probability per renewal ~ Beta(alpha, beta)';
COMMENT ON COLUMN cartera.sbg_params.alpha IS 'first shape of the Beta distribution of churn probabilities';
COMMENT ON COLUMN cartera.sbg_params.beta IS 'second shape of the Beta distribution of churn probabilities (mean churn alpha/(alpha+beta))';
COMMENT ON COLUMN cartera.sbg_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.sbg_params.customers IS 'customers (cohort size) the model was fitted on';
COMMENT ON COLUMN cartera.sbg_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.sbg_params.converged IS 'whether the optimiser met its convergence test at an interior point';
COMMENT ON COLUMN cartera.sbg_params.se_alpha IS 'standard error of alpha (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.sbg_params.se_beta IS 'standard error of beta';
COMMENT ON COLUMN cartera.sbg_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 2)';
COMMENT ON COLUMN cartera.sbg_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';

CREATE FUNCTION cartera.sbg_params(alpha double precision, beta double precision)
  RETURNS cartera.sbg_params
  AS 'MODULE_PATHNAME', 'cartera_sbg_params_make' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_params(double precision, double precision) IS
  'an sBG model from its two parameters (fitted elsewhere), for the sbg_* projections';

CREATE FUNCTION cartera.sbg_fit(survivors bigint[], penalizer double precision DEFAULT 0)
  RETURNS cartera.sbg_params
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_survivors' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_fit(bigint[], double precision) IS
  'fit the sBG model to a cohort''s survivor counts: customers active at the start of periods 1, 2, ... (the first is the cohort size)';

CREATE FUNCTION cartera.sbg_fit_transfn(internal, integer, boolean) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, integer, boolean, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, date, date, date, interval) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_dates_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, date, date, date, interval, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_dates_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, timestamptz, timestamptz, timestamptz, interval) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_dates_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, timestamptz, timestamptz, timestamptz, interval, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_dates_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_finalfn(internal) RETURNS cartera.sbg_params
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, integer, boolean) IS 'transition function of sbg_fit(periods, active)';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, integer, boolean, double precision) IS 'transition function of sbg_fit(periods, active, penalizer)';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, date, date, date, interval) IS 'transition function of sbg_fit(started, ended, as_of, period) on dates';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, date, date, date, interval, double precision) IS 'transition function of sbg_fit(started, ended, as_of, period, penalizer) on dates';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, timestamptz, timestamptz, timestamptz, interval) IS 'transition function of sbg_fit(started, ended, as_of, period) on timestamps';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, timestamptz, timestamptz, timestamptz, interval, double precision) IS 'transition function of sbg_fit(started, ended, as_of, period, penalizer) on timestamps';
COMMENT ON FUNCTION cartera.sbg_fit_finalfn(internal) IS 'final function of sbg_fit(): maximum likelihood on the (period, active) histogram';
COMMENT ON FUNCTION cartera.sbg_fit_partial_finalfn(internal) IS
  'final function of sbg_fit_partial(): the state of sbg_fit() serialized, with a header and checksum';
COMMENT ON FUNCTION cartera.sbg_fit_merge_transfn(internal, bytea) IS
  'transition function of sbg_fit_merge(): checks, deserializes and combines one sbg_fit_partial() state';

CREATE AGGREGATE cartera.sbg_fit(periods integer, active boolean) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(integer, boolean) IS
  'fit the sBG model to one row per customer: the period of churn (active false, >= 1) or the periods completed (active true, >= 0)';
CREATE AGGREGATE cartera.sbg_fit(periods integer, active boolean, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(integer, boolean, double precision) IS
  'fit the sBG model to (periods, active) rows with an L2 penalty on alpha and beta';
CREATE AGGREGATE cartera.sbg_fit(started date, ended date, as_of date, period interval) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(date, date, date, interval) IS
  'fit the sBG model to contracts: start, end (NULL = still active), as_of and the renewal period; renewals fall on started + k * period';
CREATE AGGREGATE cartera.sbg_fit(started date, ended date, as_of date, period interval, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(date, date, date, interval, double precision) IS
  'fit the sBG model to contracts on dates with an L2 penalty on alpha and beta';
CREATE AGGREGATE cartera.sbg_fit(started timestamptz, ended timestamptz, as_of timestamptz, period interval) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(timestamptz, timestamptz, timestamptz, interval) IS
  'fit the sBG model to contracts on timestamps (renewal days in the session time zone)';
CREATE AGGREGATE cartera.sbg_fit(started timestamptz, ended timestamptz, as_of timestamptz, period interval, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(timestamptz, timestamptz, timestamptz, interval, double precision) IS
  'fit the sBG model to contracts on timestamps with an L2 penalty on alpha and beta';

-- the two-step form for shards (src/partial_agg.c), as bgnbd_fit_partial/_merge
CREATE AGGREGATE cartera.sbg_fit_partial(periods integer, active boolean) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(integer, boolean) IS
  'first step of sbg_fit(integer, boolean) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(periods integer, active boolean, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(integer, boolean, double precision) IS
  'first step of sbg_fit(integer, boolean, double precision) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(started date, ended date, as_of date, period interval) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(date, date, date, interval) IS
  'first step of sbg_fit(date, date, date, interval) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(started date, ended date, as_of date, period interval, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(date, date, date, interval, double precision) IS
  'first step of sbg_fit(date, date, date, interval, double precision) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(started timestamptz, ended timestamptz, as_of timestamptz, period interval) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(timestamptz, timestamptz, timestamptz, interval) IS
  'first step of sbg_fit(timestamptz, timestamptz, timestamptz, interval) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(started timestamptz, ended timestamptz, as_of timestamptz, period interval, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(timestamptz, timestamptz, timestamptz, interval, double precision) IS
  'first step of sbg_fit(timestamptz, timestamptz, timestamptz, interval, double precision) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_merge(state bytea) (
  SFUNC = cartera.sbg_fit_merge_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_merge(bytea) IS
  'second step of sbg_fit() over shards: merges sbg_fit_partial() states and fits';

-- projections (src/sbg_sql.c); t counts periods since the start, renewals the periods survived
CREATE FUNCTION cartera.sbg_survival(params cartera.sbg_params, t integer) RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_sbg_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_survival(cartera.sbg_params, integer) IS
  'S(t): share of a new cohort still active after t periods, B(alpha, beta + t)/B(alpha, beta)';
CREATE FUNCTION cartera.sbg_retention(params cartera.sbg_params, t integer) RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_sbg_retention' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_retention(cartera.sbg_params, integer) IS
  'r(t) = S(t)/S(t-1): share of the customers active in period t who renew at its end, rising with t';
CREATE FUNCTION cartera.sbg_churn_probability(params cartera.sbg_params, t integer) RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_sbg_churn_probability' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_churn_probability(cartera.sbg_params, integer) IS
  'P(T = t): probability that a new customer churns in period t (0 for t = 0)';
CREATE FUNCTION cartera.sbg_projection(params cartera.sbg_params, periods integer,
    OUT period integer, OUT survival double precision, OUT retention double precision,
    OUT churn_probability double precision)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'cartera_sbg_projection' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
  ROWS 13;
COMMENT ON FUNCTION cartera.sbg_projection(cartera.sbg_params, integer) IS
  'one row per period 0 .. periods: survival S(t), retention r(t) (NULL at 0) and churn probability P(T = t), for charts';
CREATE FUNCTION cartera.sbg_derl(params cartera.sbg_params, discount_rate double precision, renewals integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_sbg_derl' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_derl(cartera.sbg_params, double precision, integer) IS
  'discounted expected residual lifetime (Fader & Hardie 2010) of a customer who has renewed renewals times: expected further payments, the next one undiscounted; multiply by the payment for the residual value';
------------------------------------------------------------------------------
-- diagnostics: calibration/holdout for every transaction model, tracking curve, repeat-purchase histogram, P(alive) matrices
------------------------------------------------------------------------------
-- Is the model right?  The checks of Fader, Hardie & Lee (2005) and of
-- lifetimes' plotting module, as rows (docs/predictive.md): each fits the
-- named model ('bgnbd', 'pareto_nbd' or 'mbgnbd') on the purchases up to
-- calibration_end and sets its predictions beside what happened.  The
-- purchases table is read as calibration_holdout reads it: one purchase per
-- customer and day, the purchase column a date, timestamp or timestamptz.

CREATE FUNCTION cartera.diagnostics_unit_days(purchases regclass, customer_column name,
                                              purchased_at_column name, calibration_end date,
                                              time_unit text, model text)
  RETURNS integer
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := CASE lower(time_unit) WHEN 'days' THEN 1 WHEN 'weeks' THEN 7 END;
BEGIN
  IF unit_days IS NULL THEN
    RAISE EXCEPTION 'time unit must be "days" or "weeks", not "%"', time_unit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF model IS NULL OR lower(model) NOT IN ('bgnbd', 'pareto_nbd', 'mbgnbd') THEN
    RAISE EXCEPTION 'model must be "bgnbd", "pareto_nbd" or "mbgnbd", not "%"', model
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF purchases IS NULL THEN
    RAISE EXCEPTION 'purchases table must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = purchases
                   AND a.attname = customer_column AND a.attnum > 0 AND NOT a.attisdropped) THEN
    RAISE EXCEPTION 'column "%" does not exist in %', customer_column, purchases
      USING ERRCODE = 'undefined_column';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = purchases
                   AND a.attname = purchased_at_column AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.atttypid IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)) THEN
    RAISE EXCEPTION 'column "%" of % must exist and be a date, timestamp or timestamptz',
                    purchased_at_column, purchases
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF calibration_end IS NULL OR NOT isfinite(calibration_end) THEN
    RAISE EXCEPTION 'calibration_end must be a finite date, not %', coalesce(calibration_end::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.diagnostics_unit_days(regclass, name, name, date, text, text) IS
  'checks the arguments the model diagnostics share (unit, model, columns, calibration_end) and returns the days of time_unit (1 or 7)';

CREATE FUNCTION cartera.calibration_holdout(purchases regclass, customer_column name,
                                            purchased_at_column name,
                                            calibration_end date, holdout_end date,
                                            time_unit text, model text)
  RETURNS TABLE (customer text, frequency integer, t_x double precision, "T" double precision,
                 predicted double precision, actual bigint)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := cartera.diagnostics_unit_days(purchases, customer_column, purchased_at_column,
                                                     calibration_end, time_unit, model);
BEGIN
  IF holdout_end IS NULL OR NOT isfinite(holdout_end) THEN
    RAISE EXCEPTION 'holdout_end must be a finite date, not %', coalesce(holdout_end::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF holdout_end <= calibration_end THEN
    RAISE EXCEPTION 'holdout_end must be after calibration_end, not % <= %', holdout_end, calibration_end
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH calibration AS (
      SELECT %1$I::text AS customer, cartera.rfm(%2$I::date, 0::bigint, $1) AS s
        FROM %3$s WHERE %2$I::date <= $1 GROUP BY 1),
    model AS (SELECT cartera.%4$s_fit(s, $3) AS m FROM calibration),
    holdout AS (
      SELECT %1$I::text AS customer, count(DISTINCT %2$I::date) AS n
        FROM %3$s WHERE %2$I::date > $1 AND %2$I::date <= $2 GROUP BY 1)
    SELECT c.customer, (c.s).frequency, (c.s).t_x_days / $4::float8, (c.s).age_days / $4::float8,
           cartera.expected_purchases(model.m, ($2 - $1) / $4::float8, c.s, $3),
           coalesce(h.n, 0)
      FROM calibration c CROSS JOIN model LEFT JOIN holdout h USING (customer)
     WHERE (c.s).purchases > 0
     ORDER BY c.customer$q$,
    customer_column, purchased_at_column, purchases, lower(model))
  USING calibration_end, holdout_end, time_unit, unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.calibration_holdout(regclass, name, name, date, date, text, text) IS
  'fit model (bgnbd, pareto_nbd or mbgnbd) on purchases up to calibration_end and compare, per customer, predicted and actual repeat purchase days in the holdout up to holdout_end';

CREATE FUNCTION cartera.calibration_holdout_summary(purchases regclass, customer_column name,
                                                    purchased_at_column name,
                                                    calibration_end date, holdout_end date,
                                                    time_unit text, max_frequency integer,
                                                    model text)
  RETURNS TABLE (frequency integer, customers bigint, actual_mean double precision,
                 predicted_mean double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF max_frequency IS NULL OR max_frequency < 1 THEN
    RAISE EXCEPTION 'max_frequency must be at least 1, not %', coalesce(max_frequency::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  SELECT least(c.frequency, max_frequency), count(*), avg(c.actual)::float8, avg(c.predicted)
    FROM cartera.calibration_holdout(purchases, customer_column, purchased_at_column,
                                     calibration_end, holdout_end, time_unit, model) c
   GROUP BY 1 ORDER BY 1;
END
$fn$;
COMMENT ON FUNCTION cartera.calibration_holdout_summary(regclass, name, name, date, date, text, integer, text) IS
  'mean actual vs predicted holdout purchases by calibration frequency for model (bgnbd, pareto_nbd or mbgnbd); the last bucket is max_frequency or more';

-- Fader, Hardie & Lee (2005) Fig. 1: repeat purchases period by period, the
-- calibration and the holdout, against the model's E[X(t)] for a customer
-- just acquired summed over the customers at their own ages.
CREATE FUNCTION cartera.tracking_curve(purchases regclass, customer_column name,
                                       purchased_at_column name,
                                       calibration_end date, holdout_end date,
                                       time_unit text DEFAULT 'weeks', model text DEFAULT 'bgnbd')
  RETURNS TABLE (period integer, period_start date, period_end date, in_calibration boolean,
                 actual_repeat bigint, expected_repeat double precision,
                 actual_cumulative bigint, expected_cumulative double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := cartera.diagnostics_unit_days(purchases, customer_column, purchased_at_column,
                                                     calibration_end, time_unit, model);
BEGIN
  IF holdout_end IS NULL OR NOT isfinite(holdout_end) THEN
    RAISE EXCEPTION 'holdout_end must be a finite date, not %', coalesce(holdout_end::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF holdout_end <= calibration_end THEN
    RAISE EXCEPTION 'holdout_end must be after calibration_end, not % <= %', holdout_end, calibration_end
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH days AS (
      SELECT DISTINCT %1$I::text AS customer, %2$I::date AS day
        FROM %3$s WHERE %2$I::date <= $2),
    firsts AS (
      SELECT customer, min(day) AS first_day FROM days GROUP BY customer HAVING min(day) <= $1),
    model AS (
      SELECT cartera.%4$s_fit(s, $3) AS m
        FROM (SELECT cartera.rfm(d.day, 0::bigint, $1) AS s
                FROM days d JOIN firsts f USING (customer) WHERE d.day <= $1
               GROUP BY d.customer) c),
    origin AS (SELECT min(first_day) AS o FROM firsts),
    periods AS (
      SELECT p AS period, o + (p - 1) * $4 AS period_start, least(o + p * $4 - 1, $2) AS period_end
        FROM origin, generate_series(1, ($2 - o) / $4 + 1) p),
    cohorts AS (SELECT first_day, count(*) AS n FROM firsts GROUP BY first_day),
    actual AS (
      SELECT (d.day - origin.o) / $4 + 1 AS period, count(*) AS n
        FROM days d JOIN firsts f USING (customer) CROSS JOIN origin
       WHERE d.day > f.first_day GROUP BY 1),
    expected AS (
      SELECT p.period,
             sum(c.n * (cartera.expected_purchases_new(model.m, (p.period_end - c.first_day) / $4::float8)
                        - cartera.expected_purchases_new(model.m,
                            greatest(p.period_start - 1 - c.first_day, 0) / $4::float8))) AS e
        FROM periods p JOIN cohorts c ON c.first_day <= p.period_end CROSS JOIN model
       GROUP BY p.period)
    SELECT p.period, p.period_start, p.period_end, p.period_end <= $1,
           coalesce(a.n, 0), coalesce(e.e, 0),
           (sum(coalesce(a.n, 0)) OVER w)::bigint, sum(coalesce(e.e, 0)) OVER w
      FROM periods p LEFT JOIN actual a USING (period) LEFT JOIN expected e USING (period)
    WINDOW w AS (ORDER BY p.period)
     ORDER BY p.period$q$,
    customer_column, purchased_at_column, purchases, lower(model))
  USING calibration_end, holdout_end, time_unit, unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.tracking_curve(regclass, name, name, date, date, text, text) IS
  'repeat purchases per period (week or day from the first customer''s first purchase) of the customers acquired by calibration_end, actual vs expected by model fitted on the calibration period, incremental and cumulative, through holdout_end';

-- Fader, Hardie & Lee (2005) Fig. 2: how many customers made 0, 1, 2, ...
-- repeat purchases in the calibration period, and how many the model expects.
CREATE FUNCTION cartera.repeat_purchase_histogram(purchases regclass, customer_column name,
                                                  purchased_at_column name, calibration_end date,
                                                  time_unit text DEFAULT 'weeks',
                                                  model text DEFAULT 'bgnbd',
                                                  max_frequency integer DEFAULT 7)
  RETURNS TABLE (frequency integer, actual_customers bigint, expected_customers double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := cartera.diagnostics_unit_days(purchases, customer_column, purchased_at_column,
                                                     calibration_end, time_unit, model);
BEGIN
  IF max_frequency IS NULL OR max_frequency < 1 OR max_frequency > 1000 THEN
    RAISE EXCEPTION 'max_frequency must be between 1 and 1000, not %', coalesce(max_frequency::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH calibration AS (
      SELECT cartera.rfm(%2$I::date, 0::bigint, $1) AS s
        FROM %3$s WHERE %2$I::date <= $1 GROUP BY %1$I::text),
    model AS (SELECT cartera.%4$s_fit(s, $2) AS m FROM calibration),
    cohorts AS (
      SELECT (s).age_days AS age, count(*) AS n FROM calibration WHERE (s).purchases > 0 GROUP BY 1),
    probability AS (
      SELECT c.age, c.n, x,
             cartera.probability_of_purchases(model.m, c.age / $4::float8, x) AS p
        FROM cohorts c CROSS JOIN model CROSS JOIN generate_series(0, $3 - 1) x),
    expected AS (
      SELECT x, sum(n * p) AS e FROM probability GROUP BY x
      UNION ALL
      SELECT $3, sum(n * (1 - total))
        FROM (SELECT n, sum(p) AS total FROM probability GROUP BY age, n) t),
    actual AS (
      SELECT least((s).frequency, $3) AS x, count(*) AS n
        FROM calibration WHERE (s).purchases > 0 GROUP BY 1)
    SELECT b.x, coalesce(a.n, 0), coalesce(e.e, 0)
      FROM generate_series(0, $3) b(x) LEFT JOIN actual a USING (x) LEFT JOIN expected e USING (x)
     ORDER BY b.x$q$,
    customer_column, purchased_at_column, purchases, lower(model))
  USING calibration_end, time_unit, max_frequency, unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.repeat_purchase_histogram(regclass, name, name, date, text, text, integer) IS
  'customers by repeat purchases in the calibration period up to calibration_end, actual vs expected by model (sum of P(X(T) = x) at each customer''s T); the last bucket is max_frequency or more';

-- lifetimes' plot_probability_alive_matrix and plot_frequency_recency_matrix:
-- P(alive) and expected purchases over a grid of histories of one length T.
CREATE FUNCTION cartera.model_matrix_grid("T" double precision, max_frequency integer,
                                          recency_steps integer, horizon double precision)
  RETURNS TABLE (frequency integer, recency double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF "T" IS NULL OR NOT ("T" > 0 AND "T" < 'Infinity'::float8) THEN
    RAISE EXCEPTION 'T must be a positive finite number, not %', coalesce("T"::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_frequency IS NULL OR max_frequency < 1 OR max_frequency > 1000 THEN
    RAISE EXCEPTION 'max_frequency must be between 1 and 1000, not %', coalesce(max_frequency::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF recency_steps IS NULL OR recency_steps < 1 OR recency_steps > 1000 THEN
    RAISE EXCEPTION 'recency_steps must be between 1 and 1000, not %', coalesce(recency_steps::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF horizon IS NULL OR NOT (horizon >= 0 AND horizon < 'Infinity'::float8) THEN
    RAISE EXCEPTION 'horizon must be a finite number >= 0, not %', coalesce(horizon::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  SELECT 0, 0::float8
  UNION ALL
  SELECT x, CASE WHEN k = recency_steps THEN "T" ELSE "T" * k / recency_steps END
    FROM generate_series(1, max_frequency) x, generate_series(0, recency_steps) k
   ORDER BY 1, 2;
END
$fn$;
COMMENT ON FUNCTION cartera.model_matrix_grid(double precision, integer, integer, double precision) IS
  'the (frequency, recency) grid of model_matrix(): (0, 0), then frequency 1 to max_frequency with recency 0 to T in recency_steps steps; checks the arguments';

CREATE FUNCTION cartera.model_matrix(params cartera.bgnbd_params, "T" double precision,
                                     max_frequency integer DEFAULT 10, recency_steps integer DEFAULT 10,
                                     horizon double precision DEFAULT 52)
  RETURNS TABLE (frequency integer, recency double precision, p_alive double precision,
                 expected_purchases double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF params IS NULL THEN
    RAISE EXCEPTION 'model parameters must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN QUERY
  SELECT g.frequency, g.recency, cartera.p_alive(params, g.frequency, g.recency, "T"),
         cartera.expected_purchases(params, horizon, g.frequency, g.recency, "T")
    FROM cartera.model_matrix_grid("T", max_frequency, recency_steps, horizon) g;
END
$fn$;
COMMENT ON FUNCTION cartera.model_matrix(cartera.bgnbd_params, double precision, integer, integer, double precision) IS
  'BG/NBD: P(alive) and expected purchases in the next horizon time units over a frequency x recency grid of histories of length T (lifetimes'' probability-alive and frequency-recency matrices)';

CREATE FUNCTION cartera.model_matrix(params cartera.pareto_nbd_params, "T" double precision,
                                     max_frequency integer DEFAULT 10, recency_steps integer DEFAULT 10,
                                     horizon double precision DEFAULT 52)
  RETURNS TABLE (frequency integer, recency double precision, p_alive double precision,
                 expected_purchases double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF params IS NULL THEN
    RAISE EXCEPTION 'model parameters must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN QUERY
  SELECT g.frequency, g.recency, cartera.p_alive(params, g.frequency, g.recency, "T"),
         cartera.expected_purchases(params, horizon, g.frequency, g.recency, "T")
    FROM cartera.model_matrix_grid("T", max_frequency, recency_steps, horizon) g;
END
$fn$;
COMMENT ON FUNCTION cartera.model_matrix(cartera.pareto_nbd_params, double precision, integer, integer, double precision) IS
  'Pareto/NBD: P(alive) and expected purchases in the next horizon time units over a frequency x recency grid of histories of length T';

CREATE FUNCTION cartera.model_matrix(params cartera.mbgnbd_params, "T" double precision,
                                     max_frequency integer DEFAULT 10, recency_steps integer DEFAULT 10,
                                     horizon double precision DEFAULT 52)
  RETURNS TABLE (frequency integer, recency double precision, p_alive double precision,
                 expected_purchases double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF params IS NULL THEN
    RAISE EXCEPTION 'model parameters must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN QUERY
  SELECT g.frequency, g.recency, cartera.p_alive(params, g.frequency, g.recency, "T"),
         cartera.expected_purchases(params, horizon, g.frequency, g.recency, "T")
    FROM cartera.model_matrix_grid("T", max_frequency, recency_steps, horizon) g;
END
$fn$;
COMMENT ON FUNCTION cartera.model_matrix(cartera.mbgnbd_params, double precision, integer, integer, double precision) IS
  'MBG/NBD: P(alive) and expected purchases in the next horizon time units over a frequency x recency grid of histories of length T';

-- One call, the candidate models compared: the three transaction models fitted
-- to the same calibration summaries, with standard errors, information
-- criteria and, given a holdout, how well each predicts it.
CREATE FUNCTION cartera.compare_models(purchases regclass, customer_column name, purchased_at_column name,
                                       calibration_end date, holdout_end date DEFAULT NULL,
                                       time_unit text DEFAULT 'weeks')
  RETURNS TABLE (model text, customers bigint, converged boolean,
                 r double precision, alpha double precision, a double precision, b double precision,
                 s double precision, beta double precision,
                 se_r double precision, se_alpha double precision, se_a double precision, se_b double precision,
                 se_s double precision, se_beta double precision,
                 log_likelihood double precision, aic double precision, bic double precision,
                 delta_bic double precision, holdout_actual double precision, holdout_predicted double precision,
                 holdout_rmse double precision, holdout_bias double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := cartera.diagnostics_unit_days(purchases, customer_column, purchased_at_column,
                                                     calibration_end, time_unit, 'bgnbd');
BEGIN
  IF holdout_end IS NOT NULL AND (NOT isfinite(holdout_end) OR holdout_end <= calibration_end) THEN
    RAISE EXCEPTION 'holdout_end must be a finite date after calibration_end, not %', holdout_end
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass NULL to compare the fits alone.';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH calibration AS (
      SELECT %1$I::text AS customer, cartera.rfm(%2$I::date, 0::bigint, $1) AS s
        FROM %3$s WHERE %2$I::date <= $1 GROUP BY 1),
    fits AS (
      SELECT cartera.bgnbd_fit(c.s, $3) AS bg, cartera.pareto_nbd_fit(c.s, $3) AS pn,
             cartera.mbgnbd_fit(c.s, $3) AS mb
        FROM calibration c WHERE (c.s).purchases > 0),
    holdout AS (
      SELECT %1$I::text AS customer, count(DISTINCT %2$I::date) AS n
        FROM %3$s WHERE $2 IS NOT NULL AND %2$I::date > $1 AND %2$I::date <= $2 GROUP BY 1),
    predicted AS (
      SELECT coalesce(h.n, 0)::float8 AS actual,
             cartera.expected_purchases(f.bg, ($2 - $1) / $4::float8, c.s, $3) AS bgnbd,
             cartera.expected_purchases(f.pn, ($2 - $1) / $4::float8, c.s, $3) AS pareto_nbd,
             cartera.expected_purchases(f.mb, ($2 - $1) / $4::float8, c.s, $3) AS mbgnbd
        FROM calibration c CROSS JOIN fits f LEFT JOIN holdout h USING (customer)
       WHERE (c.s).purchases > 0 AND $2 IS NOT NULL),
    errors AS (
      SELECT e.model, sum(e.actual) AS actual, sum(e.pred) AS pred,
             sqrt(avg((e.pred - e.actual) ^ 2)) AS rmse, (sum(e.pred) - sum(e.actual)) / nullif(sum(e.actual), 0) AS bias
        FROM predicted p, LATERAL (VALUES ('bgnbd', p.bgnbd, p.actual), ('pareto_nbd', p.pareto_nbd, p.actual),
                                          ('mbgnbd', p.mbgnbd, p.actual)) e(model, pred, actual)
       GROUP BY e.model),
    compared AS (
      SELECT m.* FROM fits f, LATERAL (VALUES
        ('bgnbd', (f.bg).customers, (f.bg).converged, (f.bg).r, (f.bg).alpha, (f.bg).a, (f.bg).b, NULL::float8, NULL::float8,
         (f.bg).se_r, (f.bg).se_alpha, (f.bg).se_a, (f.bg).se_b, NULL::float8, NULL::float8,
         (f.bg).log_likelihood, (f.bg).aic, (f.bg).bic),
        ('pareto_nbd', (f.pn).customers, (f.pn).converged, (f.pn).r, (f.pn).alpha, NULL, NULL, (f.pn).s, (f.pn).beta,
         (f.pn).se_r, (f.pn).se_alpha, NULL, NULL, (f.pn).se_s, (f.pn).se_beta,
         (f.pn).log_likelihood, (f.pn).aic, (f.pn).bic),
        ('mbgnbd', (f.mb).customers, (f.mb).converged, (f.mb).r, (f.mb).alpha, (f.mb).a, (f.mb).b, NULL, NULL,
         (f.mb).se_r, (f.mb).se_alpha, (f.mb).se_a, (f.mb).se_b, NULL, NULL,
         (f.mb).log_likelihood, (f.mb).aic, (f.mb).bic))
        m(model, customers, converged, r, alpha, a, b, s, beta, se_r, se_alpha, se_a, se_b, se_s, se_beta,
          log_likelihood, aic, bic)
       WHERE m.customers IS NOT NULL)
    SELECT c.model, c.customers, c.converged, c.r, c.alpha, c.a, c.b, c.s, c.beta,
           c.se_r, c.se_alpha, c.se_a, c.se_b, c.se_s, c.se_beta, c.log_likelihood, c.aic, c.bic,
           c.bic - min(c.bic) OVER (), e.actual, e.pred, e.rmse, e.bias
      FROM compared c LEFT JOIN errors e USING (model)
     ORDER BY c.bic, c.model$q$,
    customer_column, purchased_at_column, purchases)
  USING calibration_end, holdout_end, lower(time_unit), unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.compare_models(regclass, name, name, date, date, text) IS
  'fit BG/NBD, Pareto/NBD and MBG/NBD to the same summaries (purchases up to calibration_end) and compare them: parameters, standard errors, log-likelihood, AIC, BIC (delta_bic from the best) and, with holdout_end, the actual and predicted repeat purchase days of the holdout, RMSE per customer and bias';
-- END models
-- twin of sql/cartera_model_choice.sql (tools/refresh-upgrade)
-- BEGIN modelchoice
------------------------------------------------------------------------------
-- 0.4.0: the portfolio uses the best transaction model (docs/predictive.md,
-- "Which model refresh() uses").  refresh() fits BG/NBD, Pareto/NBD and
-- MBG/NBD on the same summaries (one aggregate pass: the three share the
-- (x, t_x, T) histogram), records every fit in cartera.model_history, and
-- fills customer_state from the model chosen by the portfolio settings
-- cartera.transaction_model (auto, or a model the DBA names) and
-- cartera.model_selection (bic, aic or holdout).  auto chooses between
-- Pareto/NBD and MBG/NBD: BG/NBD gives every one-time buyer P(alive) = 1,
-- however long ago they bought, so it is used only when named.
-- This file only ALTERs and adds: it is the same in a fresh install and in
-- the upgrade from 0.3.0 (its "modelchoice" block, tools/refresh-upgrade).
------------------------------------------------------------------------------

ALTER TABLE cartera.portfolio_model
  ADD COLUMN transaction_model text
    CONSTRAINT portfolio_model_transaction_model CHECK (transaction_model IN ('bgnbd', 'pareto_nbd', 'mbgnbd')),
  ADD COLUMN pareto_nbd cartera.pareto_nbd_params,
  ADD COLUMN mbgnbd cartera.mbgnbd_params;
COMMENT ON COLUMN cartera.portfolio_model.transaction_model IS
  'the model customer_state''s p_alive, expected_purchases_12m and clv_predicted_12m come from: bgnbd, pareto_nbd or mbgnbd (NULL: none converged)';
COMMENT ON COLUMN cartera.portfolio_model.pareto_nbd IS 'the Pareto/NBD fit of the last refresh() (NULL when it did not converge)';
COMMENT ON COLUMN cartera.portfolio_model.mbgnbd IS 'the MBG/NBD fit of the last refresh() (NULL when it did not converge)';
-- a portfolio refreshed by 0.3.0 keeps its BG/NBD predictions until the next refresh()
UPDATE cartera.portfolio_model SET transaction_model = 'bgnbd' WHERE bgnbd IS NOT NULL;

CREATE TABLE cartera.model_history (
  history_id        bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  refreshed_at      timestamptz NOT NULL,
  as_of             timestamptz NOT NULL,
  model             text NOT NULL CONSTRAINT model_history_model CHECK (model IN ('bgnbd', 'pareto_nbd', 'mbgnbd')),
  chosen            boolean NOT NULL,
  selection         text NOT NULL CONSTRAINT model_history_selection CHECK (selection IN ('bic', 'aic', 'holdout', 'named')),
  time_unit         text NOT NULL,
  customers         bigint,
  converged         boolean,
  r                 double precision,
  alpha             double precision,
  a                 double precision,
  b                 double precision,
  s                 double precision,
  beta              double precision,
  se_r              double precision,
  se_alpha          double precision,
  se_a              double precision,
  se_b              double precision,
  se_s              double precision,
  se_beta           double precision,
  log_likelihood    double precision,
  aic               double precision,
  bic               double precision,
  holdout           interval,
  holdout_customers bigint,
  holdout_rmse      double precision,
  holdout_bias      double precision
);
CREATE INDEX model_history_refreshed_at_idx ON cartera.model_history (refreshed_at);
COMMENT ON TABLE cartera.model_history IS
  'every transaction-model fit of every refresh(), one row per refresh and model: what a team charts to watch the models drift';
COMMENT ON COLUMN cartera.model_history.history_id IS 'identity';
COMMENT ON COLUMN cartera.model_history.refreshed_at IS 'when the refresh ran';
COMMENT ON COLUMN cartera.model_history.as_of IS 'the refresh''s as_of: the fit is of the summaries at that moment';
COMMENT ON COLUMN cartera.model_history.model IS 'bgnbd, pareto_nbd or mbgnbd';
COMMENT ON COLUMN cartera.model_history.chosen IS 'true for the model customer_state was filled from';
COMMENT ON COLUMN cartera.model_history.selection IS 'how the model was chosen: bic, aic, holdout (cartera.model_selection) or named (cartera.transaction_model)';
COMMENT ON COLUMN cartera.model_history.time_unit IS 'days or weeks: the unit of alpha and beta';
COMMENT ON COLUMN cartera.model_history.customers IS 'customers fitted (with at least one purchase)';
COMMENT ON COLUMN cartera.model_history.converged IS 'whether the fit found an interior maximum (a fit that did not is never chosen)';
COMMENT ON COLUMN cartera.model_history.r IS 'shape of the purchase-rate distribution (every model)';
COMMENT ON COLUMN cartera.model_history.alpha IS 'rate of the purchase-rate distribution, per time_unit (every model)';
COMMENT ON COLUMN cartera.model_history.a IS 'BG/NBD and MBG/NBD: first shape of the dropout distribution';
COMMENT ON COLUMN cartera.model_history.b IS 'BG/NBD and MBG/NBD: second shape of the dropout distribution';
COMMENT ON COLUMN cartera.model_history.s IS 'Pareto/NBD: shape of the dropout-rate distribution';
COMMENT ON COLUMN cartera.model_history.beta IS 'Pareto/NBD: rate of the dropout-rate distribution, per time_unit';
COMMENT ON COLUMN cartera.model_history.se_r IS 'standard error of r';
COMMENT ON COLUMN cartera.model_history.se_alpha IS 'standard error of alpha';
COMMENT ON COLUMN cartera.model_history.se_a IS 'standard error of a';
COMMENT ON COLUMN cartera.model_history.se_b IS 'standard error of b';
COMMENT ON COLUMN cartera.model_history.se_s IS 'standard error of s';
COMMENT ON COLUMN cartera.model_history.se_beta IS 'standard error of beta';
COMMENT ON COLUMN cartera.model_history.log_likelihood IS 'log-likelihood at the estimate';
COMMENT ON COLUMN cartera.model_history.aic IS 'Akaike information criterion (lower is better)';
COMMENT ON COLUMN cartera.model_history.bic IS 'Bayesian information criterion (lower is better)';
COMMENT ON COLUMN cartera.model_history.holdout IS 'selection = holdout: the period held out (cartera.model_holdout); NULL otherwise';
COMMENT ON COLUMN cartera.model_history.holdout_customers IS 'customers with a purchase before the holdout, whose holdout purchases were predicted';
COMMENT ON COLUMN cartera.model_history.holdout_rmse IS 'root mean squared error of the predicted holdout repeat purchases per customer (the model fitted without the holdout)';
COMMENT ON COLUMN cartera.model_history.holdout_bias IS 'total predicted minus total actual holdout repeat purchases, relative to the actual';
SELECT pg_catalog.pg_extension_config_dump('cartera.model_history', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.model_history', 'history_id'), '');
COMMENT ON SEQUENCE cartera.model_history_history_id_seq IS 'identity of cartera.model_history';

-- The holdout errors of the three transaction models: each fitted on the
-- summaries as of as_of - holdout, predicting the repeat purchase days of
-- (as_of - holdout, as_of] of the customers who had bought before.
CREATE FUNCTION cartera.model_holdout_errors(as_of timestamptz, time_unit text, holdout interval)
  RETURNS TABLE (model text, customers bigint, rmse double precision, bias double precision)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  cal_end timestamptz := as_of - holdout;
  unit_days double precision := CASE lower(time_unit) WHEN 'weeks' THEN 7 ELSE 1 END;
BEGIN
  IF holdout IS NULL OR cal_end >= as_of THEN
    RAISE EXCEPTION 'holdout must be a positive interval, not %', holdout
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH split AS (
      SELECT cartera.rfm(r.purchased_at, r.amount, $1) FILTER (WHERE r.purchased_at <= $1) AS cal,
             count(DISTINCT (r.purchased_at)::date) FILTER (WHERE r.purchased_at > $1 AND r.purchased_at <= $2) AS later_days
        FROM (%s) r
       GROUP BY r.customer_id),
    known AS (SELECT cal, later_days FROM split WHERE (cal).purchases > 0),
    fits AS (SELECT cartera.bgnbd_fit(cal, $3) AS b, cartera.pareto_nbd_fit(cal, $3) AS p,
                    cartera.mbgnbd_fit(cal, $3) AS m FROM known),
    predicted AS (
      -- the first purchase day in the holdout is a repeat only for those who bought before: all of known
      SELECT k.later_days::float8 AS actual,
             CASE WHEN (f.b).converged THEN cartera.expected_purchases(f.b, $4, k.cal, $3) END AS bgnbd,
             CASE WHEN (f.p).converged THEN cartera.expected_purchases(f.p, $4, k.cal, $3) END AS pareto_nbd,
             CASE WHEN (f.m).converged THEN cartera.expected_purchases(f.m, $4, k.cal, $3) END AS mbgnbd
        FROM known k CROSS JOIN fits f)
    SELECT e.model, count(e.pred), sqrt(avg((e.pred - e.actual) ^ 2)),
           (sum(e.pred) - sum(e.actual) FILTER (WHERE e.pred IS NOT NULL)) / nullif(sum(e.actual) FILTER (WHERE e.pred IS NOT NULL), 0)
      FROM predicted, LATERAL (VALUES ('bgnbd', bgnbd, actual), ('pareto_nbd', pareto_nbd, actual),
                                      ('mbgnbd', mbgnbd, actual)) e(model, pred, actual)
     GROUP BY e.model ORDER BY e.model$q$, cartera.purchase_rows_sql())
  USING cal_end, as_of, lower(time_unit), extract(epoch FROM as_of - cal_end) / 86400.0 / unit_days;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.model_holdout_errors(timestamptz, text, interval) FROM PUBLIC;
COMMENT ON FUNCTION cartera.model_holdout_errors(timestamptz, text, interval) IS
  'holdout check of the three transaction models on the portfolio: fitted as of as_of - holdout, their predicted repeat purchase days of the holdout against the actual (RMSE per customer, relative bias); used by refresh() when cartera.model_selection = holdout';

-- refresh() calls this with its three fits: it chooses, records the history
-- and returns the chosen model's name (NULL: none usable).
CREATE FUNCTION cartera.choose_transaction_model(as_of timestamptz, time_unit text, refreshed_at timestamptz,
                                                 bg cartera.bgnbd_params, pnbd cartera.pareto_nbd_params,
                                                 mbg cartera.mbgnbd_params)
  RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  named text := current_setting('cartera.transaction_model');
  selection text := CASE WHEN named = 'auto' THEN current_setting('cartera.model_selection') ELSE 'named' END;
  holdout interval := CASE WHEN selection = 'holdout' THEN current_setting('cartera.model_holdout')::interval END;
  picked text;
BEGIN
  WITH fit AS (
    SELECT f.*
      FROM (VALUES
        ('bgnbd', (bg).customers, (bg).converged, (bg).r, (bg).alpha, (bg).a, (bg).b, NULL::float8, NULL::float8,
         (bg).se_r, (bg).se_alpha, (bg).se_a, (bg).se_b, NULL::float8, NULL::float8, (bg).log_likelihood, (bg).aic, (bg).bic),
        ('pareto_nbd', (pnbd).customers, (pnbd).converged, (pnbd).r, (pnbd).alpha, NULL, NULL, (pnbd).s, (pnbd).beta,
         (pnbd).se_r, (pnbd).se_alpha, NULL, NULL, (pnbd).se_s, (pnbd).se_beta, (pnbd).log_likelihood, (pnbd).aic, (pnbd).bic),
        ('mbgnbd', (mbg).customers, (mbg).converged, (mbg).r, (mbg).alpha, (mbg).a, (mbg).b, NULL, NULL,
         (mbg).se_r, (mbg).se_alpha, (mbg).se_a, (mbg).se_b, NULL, NULL, (mbg).log_likelihood, (mbg).aic, (mbg).bic))
        f(model, customers, converged, r, alpha, a, b, s, beta, se_r, se_alpha, se_a, se_b, se_s, se_beta,
          log_likelihood, aic, bic)
     WHERE f.customers IS NOT NULL),
  held AS (
    -- only computed when selection = holdout (a one-time filter)
    SELECT h.model, h.customers, h.rmse, h.bias
      FROM cartera.model_holdout_errors(as_of, time_unit, holdout) h WHERE selection = 'holdout'),
  scored AS (
    SELECT fit.*, held.customers AS holdout_customers, held.rmse AS holdout_rmse, held.bias AS holdout_bias
      FROM fit LEFT JOIN held USING (model)),
  pick AS (
    -- auto: Pareto/NBD or MBG/NBD, lowest criterion first (ties by name)
    SELECT s.model FROM scored s
     WHERE s.converged
       AND CASE WHEN selection = 'named' THEN s.model = named ELSE s.model IN ('pareto_nbd', 'mbgnbd') END
     ORDER BY CASE selection WHEN 'aic' THEN s.aic WHEN 'holdout' THEN s.holdout_rmse ELSE s.bic END NULLS LAST,
              s.model
     LIMIT 1),
  recorded AS (
    INSERT INTO cartera.model_history
           (refreshed_at, as_of, model, chosen, selection, time_unit, customers, converged, r, alpha, a, b, s, beta,
            se_r, se_alpha, se_a, se_b, se_s, se_beta, log_likelihood, aic, bic, holdout, holdout_customers,
            holdout_rmse, holdout_bias)
      SELECT choose_transaction_model.refreshed_at, as_of, s.model, s.model IN (SELECT model FROM pick), selection,
             lower(time_unit), s.customers, s.converged, s.r, s.alpha, s.a, s.b, s.s, s.beta, s.se_r, s.se_alpha,
             s.se_a, s.se_b, s.se_s, s.se_beta, s.log_likelihood, s.aic, s.bic, holdout, s.holdout_customers,
             s.holdout_rmse, s.holdout_bias
        FROM scored s ORDER BY s.model
    RETURNING model_history.model, model_history.chosen AS is_chosen)
  SELECT r.model INTO picked FROM recorded r WHERE r.is_chosen;
  IF picked IS NULL AND selection = 'named' AND bg IS NOT NULL THEN
    RAISE WARNING 'the % fit did not converge: customer_state gets no model predictions', named
      USING HINT = 'Set cartera.transaction_model to auto (cartera.portfolio_setting) to fall back on another model.';
  END IF;
  RETURN picked;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.choose_transaction_model(timestamptz, text, timestamptz, cartera.bgnbd_params, cartera.pareto_nbd_params, cartera.mbgnbd_params) FROM PUBLIC;
COMMENT ON FUNCTION cartera.choose_transaction_model(timestamptz, text, timestamptz, cartera.bgnbd_params, cartera.pareto_nbd_params, cartera.mbgnbd_params) IS
  'part of refresh(): chooses the transaction model among its fits (settings cartera.transaction_model and cartera.model_selection), records every fit in model_history and returns the choice';
-- END modelchoice

-- twin of the end of sql/cartera_security.sql (tools/refresh-upgrade)
-- BEGIN deferred
------------------------------------------------------------------------------
-- 0.4.0: deferred maintenance (docs/deferred.md).  A purchase source in
-- deferred mode (cartera.set_purchase_mode()) does not update states, log
-- transitions or raise alerts in the purchase's transaction: its triggers
-- only queue, in that transaction, what the maintenance needs (the new rows'
-- per-customer states for inserts; the customers to recompute for updates,
-- deletes and truncates).  The background worker (src/deferred_worker.c) or
-- cartera.catch_up() apply the queue in batches through the same statements
-- as immediate mode: state_update_sql(), recompute_state(),
-- raise_purchase_alerts().  New objects only: the whole file is the
-- "deferred" block of the upgrade from 0.3.0 (tools/refresh-upgrade).
------------------------------------------------------------------------------

-- The queue.  A row leaves it in the transaction that applies it, so a
-- committed purchase is applied exactly once; recompute_state() takes the
-- rows of the customers it recomputes in the statement that reads their
-- purchases (sql/cartera_portfolio.sql).
CREATE TABLE cartera.deferred_change (
  change_id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id   bigint,
  state         bytea,
  recompute     boolean NOT NULL DEFAULT false,
  purchase_ids  bigint[],
  source        regclass NOT NULL,
  queued_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX deferred_change_customer_idx ON cartera.deferred_change (customer_id);
COMMENT ON TABLE cartera.deferred_change IS
  'purchase changes of sources in deferred mode, queued by their triggers and applied to customer_state by the deferred worker or cartera.catch_up()';
COMMENT ON COLUMN cartera.deferred_change.change_id IS 'arrival order';
COMMENT ON COLUMN cartera.deferred_change.customer_id IS 'the customer; NULL: every customer (a TRUNCATE)';
COMMENT ON COLUMN cartera.deferred_change.state IS 'the aggregate state of the statement''s new rows of the customer (cartera.rfm_state()), to merge; NULL: nothing to merge';
COMMENT ON COLUMN cartera.deferred_change.recompute IS 'true: recompute the customer from every purchase source (an UPDATE, DELETE or TRUNCATE)';
COMMENT ON COLUMN cartera.deferred_change.purchase_ids IS 'the new purchases of cartera.purchase, for cross-sell rules';
COMMENT ON COLUMN cartera.deferred_change.source IS 'the purchase source whose statement queued the change';
COMMENT ON COLUMN cartera.deferred_change.queued_at IS 'when the purchase statement queued it';
COMMENT ON SEQUENCE cartera.deferred_change_change_id_seq IS 'identity of cartera.deferred_change';

-- Customers whose queued work failed: set aside, retried later with a
-- growing pause (10 s, 20 s, 40 s... up to an hour), never blocking others.
CREATE TABLE cartera.deferred_failure (
  customer_id      bigint PRIMARY KEY,
  sqlstate         text NOT NULL,
  error            text NOT NULL,
  detail           text,
  context          text,
  attempts         integer NOT NULL DEFAULT 1,
  first_failed_at  timestamptz NOT NULL,
  last_failed_at   timestamptz NOT NULL,
  retry_at         timestamptz NOT NULL
);
COMMENT ON TABLE cartera.deferred_failure IS
  'customers whose deferred changes failed to apply (the error as raised): their changes stay queued and are retried at retry_at; the others go on';
COMMENT ON COLUMN cartera.deferred_failure.customer_id IS 'the customer set aside';
COMMENT ON COLUMN cartera.deferred_failure.sqlstate IS 'SQLSTATE of the last error';
COMMENT ON COLUMN cartera.deferred_failure.error IS 'message of the last error';
COMMENT ON COLUMN cartera.deferred_failure.detail IS 'its detail, if any';
COMMENT ON COLUMN cartera.deferred_failure.context IS 'where it was raised (the PL/pgSQL context)';
COMMENT ON COLUMN cartera.deferred_failure.attempts IS 'failed attempts in a row';
COMMENT ON COLUMN cartera.deferred_failure.first_failed_at IS 'first failure of this run of failures';
COMMENT ON COLUMN cartera.deferred_failure.last_failed_at IS 'last failure';
COMMENT ON COLUMN cartera.deferred_failure.retry_at IS 'the applier leaves the customer alone until then (cartera.retry_set_aside() brings it forward)';

-- What the appliers did: the last run that applied something, and totals.
CREATE TABLE cartera.deferred_run (
  singleton        boolean PRIMARY KEY DEFAULT true CONSTRAINT deferred_run_one_row CHECK (singleton),
  last_run_at      timestamptz NOT NULL,
  last_run_by      text NOT NULL,
  last_customers   bigint NOT NULL,
  last_changes     bigint NOT NULL,
  last_purchases   bigint NOT NULL,
  last_set_aside   bigint NOT NULL,
  last_duration    interval NOT NULL,
  last_error       text,
  total_runs       bigint NOT NULL,
  total_changes    bigint NOT NULL,
  total_purchases  bigint NOT NULL,
  since            timestamptz NOT NULL
);
COMMENT ON TABLE cartera.deferred_run IS 'the last batch of deferred changes applied (by the worker or catch_up()) and totals since the first';
COMMENT ON COLUMN cartera.deferred_run.singleton IS 'always true: one row';
COMMENT ON COLUMN cartera.deferred_run.last_run_at IS 'when the last batch that applied or set aside something ended';
COMMENT ON COLUMN cartera.deferred_run.last_run_by IS 'worker or catch_up';
COMMENT ON COLUMN cartera.deferred_run.last_customers IS 'customers brought up to date by that batch';
COMMENT ON COLUMN cartera.deferred_run.last_changes IS 'queue rows it applied';
COMMENT ON COLUMN cartera.deferred_run.last_purchases IS 'purchase rows it merged into states';
COMMENT ON COLUMN cartera.deferred_run.last_set_aside IS 'customers it set aside';
COMMENT ON COLUMN cartera.deferred_run.last_duration IS 'how long the batch took';
COMMENT ON COLUMN cartera.deferred_run.last_error IS 'the last error of a whole-portfolio recomputation (a queued TRUNCATE), if it failed';
COMMENT ON COLUMN cartera.deferred_run.total_runs IS 'batches that applied something, since "since"';
COMMENT ON COLUMN cartera.deferred_run.total_changes IS 'queue rows applied since "since"';
COMMENT ON COLUMN cartera.deferred_run.total_purchases IS 'purchase rows merged since "since"';
COMMENT ON COLUMN cartera.deferred_run.since IS 'the first batch counted';

-- Merging queued states (src/rfm_state.c).
CREATE FUNCTION cartera.rfm_state_merge_transfn(internal, bytea, timestamptz) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_state_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_state_merge_transfn(internal, bytea, timestamptz) IS
  'transition function of rfm_state_merge(): deserializes a state made by rfm_state() and combines it';
CREATE AGGREGATE cartera.rfm_state_merge(state bytea, as_of timestamptz) (
  SFUNC = cartera.rfm_state_merge_transfn,
  STYPE = internal,
  FINALFUNC = cartera.rfm_state_finalfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_state_merge(bytea, timestamptz) IS
  'the state of the union of the rows behind states made by cartera.rfm_state(), taken at as_of: rfm_state_summary(rfm_state_merge(...)) = rfm() over all those rows';
CREATE FUNCTION cartera.rfm_state_mergeable(state bytea, as_of timestamptz) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_rfm_state_mergeable' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_state_mergeable(bytea, timestamptz) IS
  'whether rows can be merged into a stored state at as_of: a state of the current layout with no purchase after as_of (false for NULL)';

-- The INSERT trigger of a source in deferred mode (src/state_trigger.c).
-- Not SECURITY DEFINER: the C function takes its owner's identity itself,
-- without the GUC nest level a SET search_path costs every purchase; its
-- queries are schema-qualified to the operator.
CREATE FUNCTION cartera.purchase_rows_deferred() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cartera_purchase_rows_deferred' LANGUAGE C;
REVOKE EXECUTE ON FUNCTION cartera.purchase_rows_deferred() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_rows_deferred() IS
  'INSERT statement trigger of a purchase source in deferred mode: refuses future purchases and amounts out of range, and queues the new rows'' state per customer in cartera.deferred_change (no state lock, alert or NOTIFY)';

-- Bring some customers up to date from the queue, at as_of: the unit that
-- succeeds or fails as a whole (apply_deferred() retries a failed batch
-- customer by customer).  Steps, as in the insert trigger:
--   1. lock the customers' state rows in customer order (the table lock the
--      upsert needs first, so that refresh() cannot come in between);
--   2. customers with a queued recompute request, or without a state that
--      can take new rows, are recomputed from the purchases by
--      recompute_state(), which takes their queued states with it;
--   3. one statement takes every other queue row of the customers and merges
--      the states into the stored ones (the same snapshot for both), scores,
--      stores and logs them (state_update_sql());
--   4. raise_purchase_alerts() gets the transitions and the purchase ids.
-- A row that cannot be taken yet (a recompute request queued after step 2,
-- a state with a purchase after as_of) stays for the next batch.
CREATE FUNCTION cartera.apply_deferred_customers(customers bigint[], as_of timestamptz)
  RETURNS TABLE (changes bigint, purchases bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
  -- the batch's statements are planned for every batch (dynamic SQL) and
  -- their estimates (an array of customers, a queue table that changes by
  -- the second) can pass jit_above_cost: JIT then took 0.7 s of a batch
  -- that runs in 50 ms
  SET jit = off
  -- (plan_cache_mode = force_custom_plan, which would plan the static
  -- statements here and in the functions called with the batch's arrays as
  -- values, doubled a batch of 1,000 customers: 95 -> 190 ms, the planner
  -- estimating every element of the arrays)
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  lifespan interval := current_setting('cartera.clv_lifespan')::interval;
  slow bigint[];
  recomputed cartera.state_transition[];
  merged cartera.state_transition[];
  ids bigint[];
  taken bigint;
  absorbed bigint := 0;
  bought bigint;
BEGIN
  LOCK TABLE cartera.customer_state IN ROW EXCLUSIVE MODE;
  -- a state row for the customers without one
  PERFORM cartera.ensure_customer_states(customers, as_of);
  -- the locks, in customer order, and in the same statement the customers
  -- whose locked state cannot take rows or who have a recompute queued
  slow := ARRAY(SELECT l.customer_id
                  FROM (SELECT s.customer_id, cartera.rfm_state_mergeable(s.rfm_state, as_of) AS mergeable
                          FROM cartera.customer_state s
                         WHERE s.customer_id = ANY (customers) ORDER BY s.customer_id FOR UPDATE OF s) l
                 WHERE NOT l.mergeable
                UNION
                SELECT d.customer_id FROM cartera.deferred_change d
                 WHERE d.customer_id = ANY (customers) AND d.recompute
                ORDER BY 1);
  IF slow <> '{}' THEN
    absorbed := (SELECT count(*) FROM cartera.deferred_change d WHERE d.customer_id = ANY (slow) AND d.purchase_ids IS NULL);
    recomputed := ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(slow, as_of) t);
  END IF;

  EXECUTE cartera.state_update_sql(
    $q$SELECT m.customer_id, cartera.rfm_state_merge(m.state, $2) AS state, true AS complete
         FROM (SELECT t.customer_id, t.state FROM queue_taken t WHERE t.state IS NOT NULL
               UNION ALL
               SELECT s.customer_id, s.rfm_state FROM cartera.customer_state s
                WHERE s.customer_id IN (SELECT t.customer_id FROM queue_taken t WHERE t.state IS NOT NULL)) m
        GROUP BY m.customer_id$q$,
    $q$SELECT (SELECT array_agg(ROW(l.*)::cartera.state_transition ORDER BY l.customer_id) FROM logged l),
              (SELECT array_agg(i ORDER BY i) FROM queue_taken t CROSS JOIN LATERAL unnest(t.purchase_ids) i),
              (SELECT count(*) FROM queue_taken),
              (SELECT coalesce(sum((cartera.rfm_state_summary(t.state)).purchases), 0) FROM queue_taken t
                WHERE t.state IS NOT NULL)$q$,
    -- the stored state must take the rows: a customer locked above with a
    -- mergeable state still has it; a recomputed one ($4) is checked in
    -- this statement's snapshot, by a scalar subquery (an EXISTS was
    -- planned, on a fresh table, as a hashed scan of every stored state)
    $q$queue_taken AS (
        DELETE FROM cartera.deferred_change d
         WHERE d.customer_id = ANY ($1) AND NOT d.recompute
           AND (d.state IS NULL
                OR (cartera.rfm_state_mergeable(d.state, $2)
                    AND (d.customer_id <> ALL ($4)
                         OR cartera.rfm_state_mergeable((SELECT s.rfm_state FROM cartera.customer_state s
                                                          WHERE s.customer_id = d.customer_id), $2))))
        RETURNING d.customer_id, d.state, d.purchase_ids)$q$)
  INTO merged, ids, taken, bought
  USING customers, as_of, lifespan, slow;

  -- the alerts of immediate mode, in the same order of the arguments
  IF coalesce(array_length(recomputed, 1), 0) + coalesce(array_length(merged, 1), 0) > 0 OR ids IS NOT NULL THEN
    PERFORM cartera.raise_purchase_alerts(array_cat(merged, recomputed), ids, as_of);
  END IF;
  changes := taken + absorbed;
  purchases := bought;
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.apply_deferred_customers(bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.apply_deferred_customers(bigint[], timestamptz) IS
  'apply the queued changes of some customers at as_of (lock, recompute or merge, score, log, raise alerts); returns queue rows applied and purchase rows merged';

-- The applier's lock: one applier of the queue at a time, for the rest of
-- the caller's transaction (an advisory lock in the two-key space, keyed by
-- "cart" and the queue's oid).  wait = false tries and returns whether it
-- got it.  set_purchase_mode() takes it before replacing a trigger: an
-- applier in the middle of a batch reads the purchase table, and would
-- otherwise wait for the trigger's lock while we waited for it.
CREATE FUNCTION cartera.lock_deferred_applier(wait boolean) RETURNS boolean
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  lock_class integer := 1667330676;
  lock_key integer := ('cartera.deferred_change'::pg_catalog.regclass::oid::bigint % 2147483647)::integer;
BEGIN
  IF wait THEN
    PERFORM pg_catalog.pg_advisory_xact_lock(lock_class, lock_key);
    RETURN true;
  END IF;
  RETURN pg_catalog.pg_try_advisory_xact_lock(lock_class, lock_key);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.lock_deferred_applier(boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.lock_deferred_applier(boolean) IS
  'take the deferred queue''s applier lock until the transaction ends (wait = false: only if free; returns whether it is held)';

-- One batch: up to max_customers customers, oldest queued first, in the
-- caller's transaction.  One applier at a time (an advisory lock of the
-- transaction): the worker skips its turn while another holds it, catch_up()
-- waits for it.  A batch that fails is applied again customer by customer,
-- each in its own subtransaction; a customer that still fails is set aside
-- in cartera.deferred_failure (its changes stay queued) and the others go on.
-- next_batch is the size the caller's next batch should take (the worker and
-- catch_up() both follow it): after a full batch (as many queue rows as the
-- customers it could take) the queue is behind, and the next takes twice as
-- many customers, up to 8 times cartera.deferred_batch_size (at most
-- 1,000,000); otherwise the setting.  Bigger batches share the fixed costs of
-- a batch (its statements' passes over the queue): on the 2-core benchmark
-- machine a customer cost about 95 us in batches of 1,000 and 60 us in
-- batches of 4,000 (docs/performance.md).
CREATE FUNCTION cartera.apply_deferred(max_customers integer DEFAULT 1000, applier text DEFAULT 'catch_up')
  RETURNS TABLE (customers bigint, changes bigint, purchases bigint, set_aside bigint, next_batch integer)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  started timestamptz := clock_timestamp();
  base integer := coalesce(nullif(current_setting('cartera.deferred_batch_size', true), '')::integer, 1000);
  batch bigint[];
  one bigint;
  r record;
  n_changes bigint := 0;
  n_purchases bigint := 0;
  n_customers bigint := 0;
  n_failed bigint := 0;
  whole_error text;
  e_state text;
  e_message text;
  e_detail text;
  e_context text;
BEGIN
  IF max_customers IS NULL OR max_customers < 1 THEN
    RAISE EXCEPTION 'max_customers must be at least 1' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF applier IS NULL OR applier NOT IN ('worker', 'catch_up') THEN
    RAISE EXCEPTION 'applier must be "worker" or "catch_up"' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF applier = 'worker' THEN
    -- the worker waits quietly for a restore to end, and for another applier
    IF EXISTS (SELECT 1 FROM cartera.restore_in_progress) OR NOT cartera.lock_deferred_applier(false) THEN
      customers := 0; changes := 0; purchases := 0; set_aside := 0; next_batch := base;
      RETURN NEXT;
      RETURN;
    END IF;
  ELSE
    PERFORM cartera.refuse_while_restoring('applying deferred changes');
    PERFORM cartera.lock_deferred_applier(true);
  END IF;

  -- a queued TRUNCATE: every customer is recomputed, which takes the whole
  -- queue with it (a failure is recorded, and tried again a minute later;
  -- the batches below still run)
  IF EXISTS (SELECT 1 FROM cartera.deferred_change d WHERE d.customer_id IS NULL)
     AND NOT EXISTS (SELECT 1 FROM cartera.deferred_run x
                      WHERE x.last_error IS NOT NULL AND x.last_run_at > clock_timestamp() - interval '1 minute') THEN
    BEGIN
      n_changes := (SELECT count(*) FROM cartera.deferred_change d WHERE d.purchase_ids IS NULL);
      PERFORM count(*) FROM cartera.recompute_state(NULL, clock_timestamp());
      n_customers := (SELECT count(*) FROM cartera.customer_state);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS e_message = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE;
      whole_error := format('%s: %s', e_state, e_message);
      n_changes := 0;
      n_customers := 0;
    END;
  END IF;

  batch := ARRAY(
    SELECT DISTINCT q.customer_id FROM (
      SELECT d.customer_id FROM cartera.deferred_change d
       WHERE d.customer_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM cartera.deferred_failure f
                          WHERE f.customer_id = d.customer_id AND f.retry_at > clock_timestamp())
       ORDER BY d.change_id
       LIMIT max_customers) q
     ORDER BY 1);
  IF batch <> '{}' THEN
    BEGIN
      SELECT * INTO r FROM cartera.apply_deferred_customers(batch, clock_timestamp());
      n_changes := n_changes + r.changes;
      n_purchases := n_purchases + r.purchases;
      n_customers := n_customers + cardinality(batch);
      DELETE FROM cartera.deferred_failure f WHERE f.customer_id = ANY (batch);
    EXCEPTION WHEN OTHERS THEN
      FOREACH one IN ARRAY batch LOOP
        BEGIN
          SELECT * INTO r FROM cartera.apply_deferred_customers(ARRAY[one], clock_timestamp());
          n_changes := n_changes + r.changes;
          n_purchases := n_purchases + r.purchases;
          n_customers := n_customers + 1;
          DELETE FROM cartera.deferred_failure f WHERE f.customer_id = one;
        EXCEPTION WHEN OTHERS THEN
          GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_message = MESSAGE_TEXT,
                                  e_detail = PG_EXCEPTION_DETAIL, e_context = PG_EXCEPTION_CONTEXT;
          INSERT INTO cartera.deferred_failure AS f
                 (customer_id, sqlstate, error, detail, context, attempts, first_failed_at, last_failed_at, retry_at)
          VALUES (one, e_state, e_message, nullif(e_detail, ''), nullif(e_context, ''), 1,
                  clock_timestamp(), clock_timestamp(), clock_timestamp() + interval '10 seconds')
          ON CONFLICT (customer_id) DO UPDATE
             SET sqlstate = excluded.sqlstate, error = excluded.error, detail = excluded.detail,
                 context = excluded.context, attempts = f.attempts + 1, last_failed_at = excluded.last_failed_at,
                 retry_at = excluded.last_failed_at
                            + least(interval '1 hour', interval '10 seconds' * 2 ^ least(f.attempts, 20));
          n_failed := n_failed + 1;
        END;
      END LOOP;
    END;
  END IF;

  IF n_changes > 0 OR n_failed > 0 OR whole_error IS NOT NULL THEN
    INSERT INTO cartera.deferred_run AS x
           (last_run_at, last_run_by, last_customers, last_changes, last_purchases, last_set_aside, last_duration,
            last_error, total_runs, total_changes, total_purchases, since)
    VALUES (clock_timestamp(), applier, n_customers, n_changes, n_purchases, n_failed, clock_timestamp() - started,
            whole_error, 1, n_changes, n_purchases, started)
    ON CONFLICT (singleton) DO UPDATE
       SET last_run_at = excluded.last_run_at, last_run_by = excluded.last_run_by,
           last_customers = excluded.last_customers, last_changes = excluded.last_changes,
           last_purchases = excluded.last_purchases, last_set_aside = excluded.last_set_aside,
           last_duration = excluded.last_duration, last_error = excluded.last_error,
           total_runs = x.total_runs + 1, total_changes = x.total_changes + excluded.total_changes,
           total_purchases = x.total_purchases + excluded.total_purchases;
  END IF;
  customers := n_customers;
  changes := n_changes;
  purchases := n_purchases;
  set_aside := n_failed;
  next_batch := CASE WHEN n_changes >= max_customers THEN least(max_customers::bigint * 2, base::bigint * 8, 1000000)
                     ELSE base END;
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.apply_deferred(integer, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.apply_deferred(integer, text) IS
  'apply one batch of the deferred queue (up to max_customers customers, oldest first) in the caller''s transaction, setting aside customers whose changes fail; next_batch: the size the next batch should take (twice after a full one, up to 8 times cartera.deferred_batch_size); what the deferred worker and catch_up() run';

-- Apply everything queued, in the caller's transaction: what pg_cron runs
-- where the worker is not preloaded (cartera.schedule()), and what a session
-- calls to read up-to-date states.  Set-aside customers wait for their
-- retry_at (cartera.retry_set_aside() brings it forward).
CREATE FUNCTION cartera.catch_up()
  RETURNS TABLE (batches integer, customers bigint, changes bigint, purchases bigint, set_aside bigint, still_queued bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  size integer := coalesce(nullif(current_setting('cartera.deferred_batch_size', true), '')::integer, 1000);
  r record;
BEGIN
  batches := 0; customers := 0; changes := 0; purchases := 0; set_aside := 0;
  LOOP
    SELECT * INTO r FROM cartera.apply_deferred(size, 'catch_up');
    EXIT WHEN r.changes = 0 AND r.set_aside = 0;
    batches := batches + 1;
    customers := customers + r.customers;
    changes := changes + r.changes;
    purchases := purchases + r.purchases;
    set_aside := set_aside + r.set_aside;
    size := r.next_batch;     -- bigger while the queue is behind, as the worker's
  END LOOP;
  still_queued := (SELECT count(*) FROM cartera.deferred_change);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.catch_up() FROM PUBLIC;
COMMENT ON FUNCTION cartera.catch_up() IS
  'apply every queued deferred change now, in the caller''s transaction (batches of cartera.deferred_batch_size customers, twice as many after a full batch, up to 8 times); returns what it did and the queue rows left (set-aside customers'')';

-- After fixing what made customers fail: retry them at the next batch.
CREATE FUNCTION cartera.retry_set_aside(customer_id bigint DEFAULT NULL) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  n bigint;
BEGIN
  UPDATE cartera.deferred_failure f SET retry_at = clock_timestamp()
   WHERE retry_set_aside.customer_id IS NULL OR f.customer_id = retry_set_aside.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.retry_set_aside(bigint) FROM PUBLIC;
COMMENT ON FUNCTION cartera.retry_set_aside(bigint) IS
  'make set-aside customers (one, or all with NULL) due for retry at the next batch; returns how many';

-- The INSERT trigger of a source for its mode (the other three triggers are
-- the same in both modes: purchase_rows_changed() reads the mode).
CREATE FUNCTION cartera.purchase_insert_trigger(source regclass) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  p cartera.purchase_source;
BEGIN
  SELECT * INTO p FROM cartera.purchase_source s WHERE s.source = purchase_insert_trigger.source;
  EXECUTE format('DROP TRIGGER IF EXISTS cartera_state_insert ON %s', p.source);
  EXECUTE format('CREATE TRIGGER cartera_state_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.%s(%L, %L, %L%s)',
                 p.source, CASE p.mode WHEN 'deferred' THEN 'purchase_rows_deferred' ELSE 'purchase_rows_added' END,
                 p.customer_column, p.at_column, p.amount_column,
                 CASE WHEN p.source = 'cartera.purchase'::regclass THEN ', ''purchase_id''' ELSE '' END);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.purchase_insert_trigger(regclass) FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_insert_trigger(regclass) IS
  'create the INSERT trigger of a purchase source again, for the mode cartera.purchase_source gives it';

-- Choose how a source's purchases are maintained; returns the previous mode.
-- Nothing is lost either way: what is queued stays valid in immediate mode
-- (states are merged, in any order), and switching to immediate applies the
-- queue first so that the source's states are current when it returns.
CREATE FUNCTION cartera.set_purchase_mode(source regclass, mode text) RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  previous text;
BEGIN
  IF mode IS NULL OR mode NOT IN ('immediate', 'deferred') THEN
    RAISE EXCEPTION 'purchase mode must be "immediate" or "deferred", not %', coalesce('"' || mode || '"', 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT p.mode INTO previous FROM cartera.purchase_source p WHERE p.source = set_purchase_mode.source FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'purchases of % are not tracked', source
      USING ERRCODE = 'undefined_object', HINT = 'Attach the table with cartera.track_purchases() first.';
  END IF;
  IF previous = mode THEN
    RETURN previous;
  END IF;
  PERFORM cartera.lock_deferred_applier(true);   -- before the trigger's lock (see there)
  UPDATE cartera.purchase_source p SET mode = set_purchase_mode.mode WHERE p.source = set_purchase_mode.source;
  PERFORM cartera.purchase_insert_trigger(source);
  IF mode = 'immediate' THEN
    PERFORM * FROM cartera.catch_up();
  END IF;
  RETURN previous;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.set_purchase_mode(regclass, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.set_purchase_mode(regclass, text) IS
  'maintain a purchase source immediately (each statement updates states and raises alerts) or deferred (statements queue; the worker or catch_up() apply); the extension''s owner (it replaces the table''s trigger); returns the previous mode';

-- What a DBA watches (docs/deferred.md).
CREATE VIEW cartera.deferred_status WITH (security_invoker = true) AS
  SELECT q.queued_changes, q.queued_customers, o.queued_at AS oldest_queued_at,
         pg_catalog.now() - o.queued_at AS oldest_age,
         pg_catalog.now() - l.queued_at AS lag,
         w.pid AS worker_pid, w.backend_start AS worker_started_at,
         r.last_run_at, r.last_run_by, r.last_customers, r.last_changes, r.last_purchases, r.last_duration,
         round((r.last_purchases / nullif(extract(epoch FROM r.last_duration), 0))::numeric, 1) AS last_purchases_per_second,
         r.last_error, r.total_runs, r.total_changes, r.total_purchases, r.since,
         (SELECT count(*) FROM cartera.deferred_failure) AS set_aside_customers,
         -- the same durations as numbers, for BI tools (JDBC has no interval type)
         extract(epoch FROM pg_catalog.now() - o.queued_at)::double precision AS oldest_age_seconds,
         extract(epoch FROM pg_catalog.now() - l.queued_at)::double precision AS lag_seconds,
         extract(epoch FROM r.last_duration)::double precision AS last_duration_seconds
    FROM (SELECT count(*) AS queued_changes, count(DISTINCT d.customer_id) AS queued_customers
            FROM cartera.deferred_change d) q
    LEFT JOIN LATERAL (SELECT d.queued_at FROM cartera.deferred_change d ORDER BY d.change_id LIMIT 1) o ON true
    LEFT JOIN LATERAL (SELECT d.queued_at FROM cartera.deferred_change d
                        WHERE NOT EXISTS (SELECT 1 FROM cartera.deferred_failure f WHERE f.customer_id = d.customer_id)
                        ORDER BY d.change_id LIMIT 1) l ON true
    LEFT JOIN cartera.deferred_run r ON true
    LEFT JOIN LATERAL (SELECT a.pid, a.backend_start FROM pg_catalog.pg_stat_activity a
                        WHERE a.backend_type = 'cartera deferred worker' AND a.datname = pg_catalog.current_database()
                        LIMIT 1) w ON true;
COMMENT ON VIEW cartera.deferred_status IS
  'one row: the deferred queue (depth, oldest change), the worker, the last batch applied and its throughput, set-aside customers';
COMMENT ON COLUMN cartera.deferred_status.queued_changes IS 'rows in cartera.deferred_change';
COMMENT ON COLUMN cartera.deferred_status.queued_customers IS 'customers with queued changes (a queued TRUNCATE, for every customer, is not counted)';
COMMENT ON COLUMN cartera.deferred_status.oldest_queued_at IS 'when the oldest queued change was queued';
COMMENT ON COLUMN cartera.deferred_status.oldest_age IS 'how long the oldest queued change has waited, set-aside customers'' included';
COMMENT ON COLUMN cartera.deferred_status.lag IS 'how long the oldest queued change of a customer not set aside has waited: how far the states are behind the purchases';
COMMENT ON COLUMN cartera.deferred_status.worker_pid IS 'process id of this database''s deferred worker; NULL: none running';
COMMENT ON COLUMN cartera.deferred_status.worker_started_at IS 'when the worker started';
COMMENT ON COLUMN cartera.deferred_status.last_run_at IS 'when the last batch that did something ended';
COMMENT ON COLUMN cartera.deferred_status.last_run_by IS 'worker or catch_up';
COMMENT ON COLUMN cartera.deferred_status.last_customers IS 'customers that batch brought up to date';
COMMENT ON COLUMN cartera.deferred_status.last_changes IS 'queue rows it applied';
COMMENT ON COLUMN cartera.deferred_status.last_purchases IS 'purchase rows it merged';
COMMENT ON COLUMN cartera.deferred_status.last_duration IS 'how long it took';
COMMENT ON COLUMN cartera.deferred_status.last_purchases_per_second IS 'purchase rows merged per second in that batch';
COMMENT ON COLUMN cartera.deferred_status.last_error IS 'the error of the last whole-portfolio recomputation (a queued TRUNCATE), if it failed';
COMMENT ON COLUMN cartera.deferred_status.total_runs IS 'batches that applied something since "since"';
COMMENT ON COLUMN cartera.deferred_status.total_changes IS 'queue rows applied since "since"';
COMMENT ON COLUMN cartera.deferred_status.total_purchases IS 'purchase rows merged since "since"';
COMMENT ON COLUMN cartera.deferred_status.since IS 'the first batch counted';
COMMENT ON COLUMN cartera.deferred_status.oldest_age_seconds IS 'oldest_age in seconds (a number for BI tools)';
COMMENT ON COLUMN cartera.deferred_status.lag_seconds IS 'lag in seconds (a number for BI tools)';
COMMENT ON COLUMN cartera.deferred_status.last_duration_seconds IS 'last_duration in seconds (a number for BI tools)';
COMMENT ON COLUMN cartera.deferred_status.set_aside_customers IS 'customers whose changes failed and wait for a retry (cartera.deferred_set_aside)';

CREATE VIEW cartera.deferred_set_aside WITH (security_invoker = true) AS
  SELECT f.customer_id, c.full_name, c.owner_agent_id, f.sqlstate, f.error, f.detail, f.context, f.attempts,
         f.first_failed_at, f.last_failed_at, f.retry_at,
         (SELECT count(*) FROM cartera.deferred_change d WHERE d.customer_id = f.customer_id) AS queued_changes
    FROM cartera.deferred_failure f LEFT JOIN cartera.customer c USING (customer_id);
COMMENT ON VIEW cartera.deferred_set_aside IS
  'customers whose deferred changes failed to apply: the error, how often, when they are retried, and what waits for them';
COMMENT ON COLUMN cartera.deferred_set_aside.customer_id IS 'the customer set aside';
COMMENT ON COLUMN cartera.deferred_set_aside.full_name IS 'the customer''s name (NULL: not in cartera.customer, e.g. only in a tracked table)';
COMMENT ON COLUMN cartera.deferred_set_aside.owner_agent_id IS 'the customer''s agent';
COMMENT ON COLUMN cartera.deferred_set_aside.sqlstate IS 'SQLSTATE of the last error';
COMMENT ON COLUMN cartera.deferred_set_aside.error IS 'message of the last error';
COMMENT ON COLUMN cartera.deferred_set_aside.detail IS 'its detail';
COMMENT ON COLUMN cartera.deferred_set_aside.context IS 'where it was raised';
COMMENT ON COLUMN cartera.deferred_set_aside.attempts IS 'failed attempts in a row';
COMMENT ON COLUMN cartera.deferred_set_aside.first_failed_at IS 'first failure';
COMMENT ON COLUMN cartera.deferred_set_aside.last_failed_at IS 'last failure';
COMMENT ON COLUMN cartera.deferred_set_aside.retry_at IS 'next attempt (cartera.retry_set_aside() brings it forward)';
COMMENT ON COLUMN cartera.deferred_set_aside.queued_changes IS 'the customer''s changes still queued';

-- user data survives pg_dump: what is queued is applied after the restore
-- (post_restore() recomputes the customers whose state does not match)
SELECT pg_catalog.pg_extension_config_dump('cartera.deferred_change', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.deferred_failure', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.deferred_run', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.deferred_change', 'change_id'), '');
-- END deferred

-- BEGIN shards
------------------------------------------------------------------------------
-- 0.4.0: the portfolio on shards (docs/scaling.md)
--
-- A portfolio split by customer over several servers (postgres_fdw hash
-- partitions on a coordinator) runs as one:
--  * refresh(): every shard computes the partial states of the model over
--    its customers (refresh_partials()), the coordinator merges them, chooses
--    the transaction model once, and every shard stores that model and
--    recomputes its states with it (refresh_with_model(), the second half of
--    refresh() itself): shard_refresh();
--  * the daily job: the portfolio-wide figures of run_followups() computed
--    once between its two halves (followups_begin(), followups_raise(), in
--    sql/cartera_alerts.sql): shard_followups();
--  * a shard's number: ids from its own block, customers placed by hash,
--    referrals and merges across shards refused: set_shard_number();
--  * bulk loads through the coordinator: shard_load(); alert notifications
--    relayed to the coordinator: shard_relay().
-- The coordinator talks to the shards through dblink over the foreign
-- servers of postgres_fdw listed in cartera.shard.
------------------------------------------------------------------------------

-- The arguments of refresh() and of a sharded refresh: the same checks and
-- messages everywhere.
CREATE FUNCTION cartera.check_refresh_arguments(as_of timestamptz, time_unit text) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF as_of IS NULL THEN
    RAISE EXCEPTION 'as_of must not be null'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Omit the argument to refresh as of now().';
  END IF;
  IF time_unit IS NULL THEN
    RAISE EXCEPTION 'time unit must not be null'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Use ''weeks'' (the default) or ''days''.';
  END IF;
  IF lower(time_unit) NOT IN ('days', 'weeks') THEN
    RAISE EXCEPTION 'time unit must be "days" or "weeks", not "%"', time_unit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite timestamp'
      USING ERRCODE = 'datetime_field_overflow', DETAIL = format('as_of is %s.', as_of),
            HINT = 'Omit the argument to refresh as of now().';
  END IF;
  IF as_of > clock_timestamp() THEN
    RAISE EXCEPTION 'as_of % is in the future', as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The server time is %s: every state would be stored, and status changes logged, as of a time that has not come.',
                            clock_timestamp()),
            HINT = 'Omit the argument to refresh as of now().';
  END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.check_refresh_arguments(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.check_refresh_arguments(timestamptz, text) IS
  'part of refresh(): refuses a NULL, infinite or future as_of and a time unit other than days or weeks';

-- The start of refresh() on this database: arguments checked, not during a
-- restore, the deferred queue applied (through the purchase path: welcome
-- alerts, cross-sell), the states locked against purchases until the
-- transaction ends, and the portfolio's clock only moving forward.
CREATE FUNCTION cartera.refresh_begin(as_of timestamptz, time_unit text) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  last_as_of timestamptz;
BEGIN
  PERFORM cartera.check_refresh_arguments(as_of, time_unit);
  PERFORM cartera.refuse_while_restoring('refresh()');
  PERFORM count(*) FROM cartera.catch_up();
  LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  SELECT m.as_of INTO last_as_of FROM cartera.portfolio_model m;
  IF as_of < last_as_of THEN
    RAISE EXCEPTION 'as_of % is before the last refresh (as of %)', as_of, last_as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'The portfolio''s clock only moves forward: every state would go back in time, and status changes would be logged before those already logged.',
            HINT = 'Refresh as of now (omit the argument).  To rebuild the whole portfolio as of an earlier day, DELETE FROM cartera.portfolio_model first.';
  END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh_begin(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh_begin(timestamptz, text) IS
  'part of refresh(): checks the arguments, applies the deferred queue, locks customer_state until the transaction ends and refuses an as_of before the last refresh';

-- A shard's half of the model: the partial states of refresh()'s breakpoints
-- and fits over this database's customers at as_of, for the coordinator to
-- merge (cartera.shard_refresh()).  Starts the refresh here (refresh_begin():
-- the states stay locked until the transaction ends).
CREATE FUNCTION cartera.refresh_partials(as_of timestamptz, time_unit text DEFAULT 'weeks')
  RETURNS TABLE (recency bytea, frequency bytea, monetary bytea, transactions bytea, spend bytea)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();
BEGIN
  PERFORM cartera.refresh_begin(as_of, time_unit);
  -- the query of refresh() with the partial forms of its aggregates (the
  -- three transaction models share the state of bgnbd_fit_partial())
  RETURN QUERY EXECUTE format($q$
    SELECT cartera.breakpoints_partial((s).recency_days, 5), cartera.breakpoints_partial((s).frequency, 5),
           cartera.breakpoints_partial((s).monetary_total::float8, 5),
           cartera.bgnbd_fit_partial(s, $2), cartera.gamma_gamma_fit_partial(s)
      FROM (SELECT cartera.rfm(r.purchased_at, r.amount, $1) AS s FROM (%s) r GROUP BY r.customer_id) q
     WHERE (s).purchases > 0$q$, cartera.purchase_rows_sql())
  USING as_of, CASE lower(time_unit) WHEN 'weeks' THEN 7 ELSE 1 END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh_partials(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh_partials(timestamptz, text) IS
  'a shard''s half of the portfolio model: the partial states of refresh()''s breakpoints (recency, frequency, monetary), transaction fits and Gamma-Gamma fit over this database''s customers at as_of, to merge with breakpoints_merge(), bgnbd_fit_merge(), pareto_nbd_fit_merge(), mbgnbd_fit_merge() and gamma_gamma_fit_merge(); starts the refresh (applies the deferred queue, locks customer_state until the transaction ends)';

-- The model refresh() stores, from its fits (one server's, or every shard's
-- merged): stamped now, the transaction model chosen by the portfolio
-- settings and every fit recorded in model_history (choose_transaction_model()).
CREATE FUNCTION cartera.refresh_model(as_of timestamptz, time_unit text,
                                      recency_breaks double precision[], frequency_breaks double precision[],
                                      monetary_breaks double precision[], bg cartera.bgnbd_params,
                                      pnbd cartera.pareto_nbd_params, mbg cartera.mbgnbd_params,
                                      gg cartera.gamma_gamma_params)
  RETURNS cartera.portfolio_model
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  model cartera.portfolio_model;
BEGIN
  model.as_of := as_of;
  model.refreshed_at := clock_timestamp();
  model.recency_breaks := recency_breaks;
  model.frequency_breaks := frequency_breaks;
  model.monetary_breaks := monetary_breaks;
  model.bgnbd := bg;
  model.pareto_nbd := pnbd;
  model.mbgnbd := mbg;
  model.gamma_gamma := gg;
  model.transaction_model := cartera.choose_transaction_model(as_of, time_unit, model.refreshed_at, bg, pnbd, mbg);
  RETURN model;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh_model(timestamptz, text, double precision[], double precision[], double precision[], cartera.bgnbd_params, cartera.pareto_nbd_params, cartera.mbgnbd_params, cartera.gamma_gamma_params) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh_model(timestamptz, text, double precision[], double precision[], double precision[], cartera.bgnbd_params, cartera.pareto_nbd_params, cartera.mbgnbd_params, cartera.gamma_gamma_params) IS
  'part of refresh(): the portfolio_model row of the given breakpoints and fits, stamped now, with the transaction model chosen by the portfolio settings (every fit recorded in model_history)';

-- The second half of refresh(): store a model fitted elsewhere (by refresh()
-- here, or by the coordinator from every shard's partial states), recompute
-- every customer's state with it, log each change once and raise the
-- segment-change alerts.  A fit that found no interior maximum is not stored
-- (its parameters sit at the edge of the space).
CREATE FUNCTION cartera.refresh_with_model(model cartera.portfolio_model)
  RETURNS TABLE (customers bigint, transitions bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  changes cartera.state_transition[];
BEGIN
  IF model IS NULL OR model.as_of IS NULL THEN
    RAISE EXCEPTION 'the model must have an as_of'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the row cartera.refresh() or cartera.shard_refresh() builds.';
  END IF;
  PERFORM cartera.refresh_begin(model.as_of, 'weeks');
  INSERT INTO cartera.portfolio_model AS m
         (as_of, recency_breaks, frequency_breaks, monetary_breaks, bgnbd, gamma_gamma, refreshed_at,
          transaction_model, pareto_nbd, mbgnbd)
  VALUES (model.as_of, model.recency_breaks, model.frequency_breaks, model.monetary_breaks,
          CASE WHEN (model.bgnbd).converged THEN model.bgnbd END,
          CASE WHEN (model.gamma_gamma).converged THEN model.gamma_gamma END,
          coalesce(model.refreshed_at, clock_timestamp()), model.transaction_model,
          CASE WHEN (model.pareto_nbd).converged THEN model.pareto_nbd END,
          CASE WHEN (model.mbgnbd).converged THEN model.mbgnbd END)
  ON CONFLICT (singleton) DO UPDATE
     SET as_of = excluded.as_of, recency_breaks = excluded.recency_breaks,
         frequency_breaks = excluded.frequency_breaks, monetary_breaks = excluded.monetary_breaks,
         bgnbd = excluded.bgnbd, gamma_gamma = excluded.gamma_gamma, refreshed_at = excluded.refreshed_at,
         transaction_model = excluded.transaction_model, pareto_nbd = excluded.pareto_nbd,
         mbgnbd = excluded.mbgnbd;
  changes := ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(NULL, model.as_of) t);
  transitions := coalesce(array_length(changes, 1), 0);
  -- segment changes (a Champion falling to At Risk) raise their alerts here too
  PERFORM cartera.raise_transition_alerts(changes, model.as_of);
  customers := (SELECT count(*) FROM cartera.customer_state);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh_with_model(cartera.portfolio_model) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh_with_model(cartera.portfolio_model) IS
  'the second half of refresh(): stores the given model (fits that did not converge left out) and recomputes every customer''s state with it at the model''s as_of, logging each change once and raising the segment-change alerts; returns customers and transitions logged';

------------------------------------------------------------------------------
-- The coordinator
------------------------------------------------------------------------------

CREATE TABLE cartera.shard (
  server    text PRIMARY KEY CONSTRAINT shard_server_not_blank CHECK (btrim(server) <> ''),
  added_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cartera.shard IS
  'the coordinator''s shards: foreign servers (postgres_fdw) of databases with cartera, each holding a part of the portfolio split by customer; cartera.shard_refresh() runs over them';
COMMENT ON COLUMN cartera.shard.server IS 'name of the foreign server (CREATE SERVER ... FOREIGN DATA WRAPPER postgres_fdw) with a user mapping for the caller';
COMMENT ON COLUMN cartera.shard.added_at IS 'when it was listed';
SELECT pg_catalog.pg_extension_config_dump('cartera.shard', '');

-- The schema of dblink, which the coordinator's functions call (it is not a
-- requirement of cartera: only a coordinator needs it).
CREATE FUNCTION cartera.dblink_schema() RETURNS name
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  found name;
BEGIN
  SELECT n.nspname INTO found
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'dblink';
  IF found IS NULL THEN
    RAISE EXCEPTION 'the coordinator needs the dblink extension'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'cartera.shard_refresh() runs its steps on the shards through dblink.',
            HINT = 'CREATE EXTENSION dblink (it comes with PostgreSQL).';
  END IF;
  RETURN found;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.dblink_schema() FROM PUBLIC;
COMMENT ON FUNCTION cartera.dblink_schema() IS 'the schema of the dblink extension; an error when it is not installed';

-- The shards of cartera.shard, each checked to be a foreign server (their
-- order: by name).
CREATE FUNCTION cartera.shard_servers() RETURNS text[]
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  servers text[] := ARRAY(SELECT h.server FROM cartera.shard h ORDER BY h.server);
  missing text;
BEGIN
  IF servers = '{}' THEN
    RAISE EXCEPTION 'no shards are listed in cartera.shard'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'INSERT INTO cartera.shard (server) the foreign servers of the shards (docs/scaling.md).';
  END IF;
  SELECT s INTO missing FROM unnest(servers) s
   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server f WHERE f.srvname = s) LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'shard "%" is not a foreign server', missing
      USING ERRCODE = 'undefined_object',
            HINT = 'CREATE SERVER it (postgres_fdw) with a user mapping, or DELETE it from cartera.shard.';
  END IF;
  RETURN servers;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_servers() FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_servers() IS
  'part of the sharded functions: the servers of cartera.shard by name, each checked to be a foreign server';

-- The coordinator's connections to its shards, one per shard
-- (cartera_shard_<server>), each in an open transaction; returns their names.
CREATE FUNCTION cartera.shard_open() RETURNS text[]
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  servers text[] := cartera.shard_servers();
  opened text[] := '{}';
BEGIN
  FOR i IN 1 .. array_length(servers, 1) LOOP
    BEGIN
      EXECUTE format('SELECT %I.dblink_connect($1, $2)', dbl) USING 'cartera_shard_' || servers[i], servers[i];
      opened := opened || ('cartera_shard_' || servers[i]);
      EXECUTE format('SELECT %I.dblink_exec($1, $2)', dbl) USING 'cartera_shard_' || servers[i], 'BEGIN';
    EXCEPTION WHEN OTHERS THEN
      PERFORM cartera.shard_close(opened, false);
      RAISE;
    END;
  END LOOP;
  RETURN opened;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_open() FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_open() IS
  'part of the sharded functions: opens a dblink connection to every shard (cartera_shard_<server>) and begins a transaction on each; returns the connection names';

-- Commit (or not) every shard's transaction, then close the connections
-- (closing one rolls back what it did not commit).  Never fails when not
-- committing: it runs while an error is on its way.
CREATE FUNCTION cartera.shard_close(opened text[], commit_them boolean) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  conn text;
BEGIN
  IF commit_them THEN
    FOREACH conn IN ARRAY opened LOOP
      EXECUTE format('SELECT %I.dblink_exec($1, $2)', dbl) USING conn, 'COMMIT';
    END LOOP;
  END IF;
  FOREACH conn IN ARRAY coalesce(opened, '{}') LOOP
    BEGIN
      EXECUTE format('SELECT %I.dblink_disconnect($1)', dbl) USING conn;
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_close(text[], boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_close(text[], boolean) IS
  'part of the sharded functions: commits every shard''s transaction when commit_them, then closes the connections shard_open() opened';

-- One query per shard (queries[i] to the i-th server of cartera.shard by
-- name; a single query goes to every shard), all at the same time, in each
-- shard's open transaction; returns every row as JSON with its shard.
CREATE FUNCTION cartera.shard_query(queries text[], columns text)
  RETURNS TABLE (server text, result json)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  servers text[] := cartera.shard_servers();
BEGIN
  IF cardinality(queries) NOT IN (1, cardinality(servers)) THEN
    RAISE EXCEPTION 'shard_query() needs one query, or one per shard (%), not %', cardinality(servers), cardinality(queries)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR i IN 1 .. cardinality(servers) LOOP
    EXECUTE format('SELECT %I.dblink_send_query($1, $2)', dbl)
      USING 'cartera_shard_' || servers[i], queries[CASE WHEN cardinality(queries) = 1 THEN 1 ELSE i END];
  END LOOP;
  FOR i IN 1 .. cardinality(servers) LOOP
    RETURN QUERY EXECUTE format('SELECT $1, pg_catalog.row_to_json(r) FROM %I.dblink_get_result($2) AS r(%s)', dbl, columns)
      USING servers[i], 'cartera_shard_' || servers[i];
    -- the end of the results (dblink: one more call)
    EXECUTE format('SELECT count(*) FROM %I.dblink_get_result($1) AS r(%s)', dbl, columns) USING 'cartera_shard_' || servers[i];
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_query(text[], text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_query(text[], text) IS
  'part of the sharded functions: runs queries[i] on the i-th shard of cartera.shard (one query: on every shard), all at the same time over the connections shard_open() opened; returns each row as JSON with its shard';

-- The coordinator's refresh(): one model for the whole portfolio, fitted
-- once from every shard's partial states, and every shard's states
-- recomputed with it, in one transaction per shard, committed together at
-- the end (a failure anywhere rolls every shard back; a failure between the
-- commits, which dblink cannot make atomic, leaves shards refreshed that a
-- new run refreshes again).
CREATE FUNCTION cartera.shard_refresh(as_of timestamptz DEFAULT now(), time_unit text DEFAULT 'weeks')
  RETURNS TABLE (server text, customers bigint, transitions bigint)
  LANGUAGE plpgsql
  -- the model travels as text: floats in their shortest exact form
  SET search_path = pg_catalog, cartera, pg_temp
  SET extra_float_digits = 1
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  fit record;
  model cartera.portfolio_model;
  opened text[];
BEGIN
  -- the coordinator's own checks first (its clock, its lock)
  PERFORM cartera.refresh_begin(as_of, time_unit);
  opened := cartera.shard_open();
  BEGIN
    -- 1. every shard's partial states (its states locked from here on)
    SELECT cartera.breakpoints_merge((q.result->>'recency')::bytea) AS rb,
           cartera.breakpoints_merge((q.result->>'frequency')::bytea) AS fb,
           cartera.breakpoints_merge((q.result->>'monetary')::bytea) AS mb,
           cartera.bgnbd_fit_merge((q.result->>'transactions')::bytea) AS bg,
           cartera.pareto_nbd_fit_merge((q.result->>'transactions')::bytea) AS pnbd,
           cartera.mbgnbd_fit_merge((q.result->>'transactions')::bytea) AS mbg,
           cartera.gamma_gamma_fit_merge((q.result->>'spend')::bytea) AS gg
      INTO fit
      FROM cartera.shard_query(ARRAY[format('SELECT * FROM cartera.refresh_partials(%L, %L)', as_of, time_unit)],
                               'recency bytea, frequency bytea, monetary bytea, transactions bytea, spend bytea') q;

    -- 2. the model, chosen once (the coordinator's settings; its model_history)
    model := cartera.refresh_model(as_of, time_unit, fit.rb, fit.fb, fit.mb, fit.bg, fit.pnbd, fit.mbg, fit.gg);
    -- the coordinator keeps it too (its own as_of check; its model_history)
    PERFORM count(*) FROM cartera.refresh_with_model(model);

    -- 3. every shard stores it and recomputes its states
    RETURN QUERY
      SELECT q.server, (q.result->>'customers')::bigint, (q.result->>'transitions')::bigint
        FROM cartera.shard_query(ARRAY[format('SELECT * FROM cartera.refresh_with_model(%L::cartera.portfolio_model)', model)],
                                 'customers bigint, transitions bigint') q
       ORDER BY 1;
    PERFORM cartera.shard_close(opened, true);
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_close(opened, false);
    RAISE;
  END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_refresh(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_refresh(timestamptz, text) IS
  'refresh() of a portfolio split over the shards of cartera.shard (run on the coordinator, needs dblink): the model fitted once from every shard''s partial states, chosen once, then every shard''s states recomputed with it (each change logged once, segment-change alerts raised), committed on every shard at the end; returns customers and transitions per shard';

-- The coordinator's run_followups(): the daily job on every shard, with the
-- portfolio-wide figures computed once over all of them: the high-value cut
-- (the 80th percentile of every buying customer's CLV) and each agent's
-- revenue this month (summed over the shards; the agents' own alerts are
-- raised on the first shard by name, always the same one).  Every shard
-- moves its statuses and raises its customers' alerts exactly as one server
-- holding the whole portfolio would.  Then the day is planned over all of
-- them (shard_plan()).
CREATE FUNCTION cartera.shard_followups(as_of date DEFAULT current_date)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql
  -- floats travel as text: in their shortest exact form
  SET search_path = pg_catalog, cartera, pg_temp
  SET extra_float_digits = 1
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  opened text[];
  halves json[];
  high_value double precision;
  revenue jsonb;
  queries text[] := '{}';
BEGIN
  -- the coordinator's own checks first (arguments, its clock)
  PERFORM count(*) FROM cartera.followups_begin(as_of);
  opened := cartera.shard_open();
  BEGIN
    -- 1-2. every shard's statuses and snoozed alerts, and its figures
    SELECT array_agg(q.result ORDER BY q.server) INTO halves
      FROM cartera.shard_query(ARRAY[format('SELECT * FROM cartera.followups_begin(%L)', as_of)],
                               'as_ts timestamptz, changes cartera.state_transition[], clv double precision[], revenue jsonb') q;
    SELECT percentile_cont(0.8) WITHIN GROUP (ORDER BY v.value::text::float8) INTO high_value
      FROM unnest(halves) h, json_array_elements(h->'clv') v;
    SELECT jsonb_object_agg(r.agent, r.total) INTO revenue
      FROM (SELECT e.key AS agent, sum(e.value::text::numeric) AS total
              FROM unnest(halves) h, json_each(h->'revenue') e GROUP BY e.key) r;
    -- 3. every shard raises its alerts with them
    FOR i IN 1 .. cardinality(halves) LOOP
      queries := queries || format('SELECT * FROM cartera.followups_raise(%L, %L, %L::cartera.state_transition[], %L, %L, %L)',
                                   as_of, halves[i]->>'as_ts',
                                   ARRAY(SELECT json_populate_record(NULL::cartera.state_transition, c)
                                           FROM json_array_elements(CASE WHEN json_typeof(halves[i]->'changes') = 'array'
                                                                         THEN halves[i]->'changes' ELSE '[]' END) c),
                                   high_value, coalesce(revenue, '{}'), i = 1);
    END LOOP;
    RETURN QUERY
      SELECT q.result->>'kind', sum((q.result->>'raised')::bigint)::bigint
        FROM cartera.shard_query(queries, 'kind text, raised bigint') q
       GROUP BY 1 ORDER BY 1;
    -- 4. the day's plan, each agent's queue ranked over every shard
    PERFORM count(*) FROM cartera.shard_plan(as_of);
    PERFORM cartera.shard_close(opened, true);
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_close(opened, false);
    RAISE;
  END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_followups(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_followups(date) IS
  'run_followups() of a portfolio split over the shards of cartera.shard (on the coordinator, needs dblink): every shard moves statuses and raises its alerts with the high-value cut and the agents'' revenue computed once over all shards (agents'' own alerts on the first shard), then the day is planned with each agent''s queue ranked over all shards (shard_plan); committed on every shard at the end; returns alerts raised per kind';

-- plan_day() over every shard, on connections shard_open() opened: steps
-- 1-2 (moot, escalation) on every shard, then each agent's open alerts of
-- every shard ranked here by their queue_place (what plan_day() orders by
-- on one server; it holds no ids), each shard given its alerts' ranks, its
-- queues filled up to the agent's capacity.  Agents are the same on every
-- shard (cartera.agent is copied to each), so is a capacity.
CREATE FUNCTION cartera.shard_plan(as_of date)
  RETURNS TABLE (agent_id bigint, capacity integer, queued bigint, backlog bigint,
                 escalated bigint, turned_red bigint, moot bigint)
  LANGUAGE plpgsql
  -- floats travel as text: in their shortest exact form
  SET search_path = pg_catalog, cartera, pg_temp
  SET extra_float_digits = 1
AS $fn$
#variable_conflict use_column
DECLARE
  steps json[];
  ranks jsonb[];
  servers text[] := cartera.shard_servers();
  queries text[] := '{}';
BEGIN
  SELECT array_agg(q.result ORDER BY q.server) INTO steps
    FROM cartera.shard_query(ARRAY[format('SELECT * FROM cartera.plan_close_and_escalate(%L)', as_of)],
                             'moot bigint[], turned_red bigint[], escalated bigint[]') q;
  SELECT array_agg(coalesce(r.ranks, '{}') ORDER BY sv.n) INTO ranks
    FROM unnest(servers) WITH ORDINALITY sv(server, n)
    LEFT JOIN (SELECT c.server, jsonb_object_agg(c.alert_id, c.rnk) AS ranks
                 FROM (SELECT q.server, q.result->>'alert_id' AS alert_id,
                              row_number() OVER (PARTITION BY q.result->>'agent_id'
                                                 ORDER BY json_populate_record(NULL::cartera.queue_place, q.result->'place')) AS rnk
                         FROM cartera.shard_query(ARRAY['SELECT alert_id, agent_id, place FROM cartera.plan_candidates()'],
                                                  'alert_id bigint, agent_id bigint, place cartera.queue_place') q) c
                GROUP BY c.server) r ON r.server = sv.server;
  FOR i IN 1 .. cardinality(servers) LOOP
    -- the agents of steps 1-2 go back to their shard (json_to_record: JSON arrays to bigint[])
    queries := queries || (SELECT format('SELECT * FROM cartera.plan_queue(%L, %L, %L, %L, %L)', as_of, ranks[i],
                                         x.moot, x.turned_red, x.escalated)
                             FROM json_to_record(steps[i]) AS x(moot bigint[], turned_red bigint[], escalated bigint[]));
  END LOOP;
  RETURN QUERY
    SELECT (q.result->>'agent_id')::bigint, max((q.result->>'capacity')::integer),
           sum((q.result->>'queued')::bigint)::bigint, sum((q.result->>'backlog')::bigint)::bigint,
           sum((q.result->>'escalated')::bigint)::bigint, sum((q.result->>'turned_red')::bigint)::bigint,
           sum((q.result->>'moot')::bigint)::bigint
      FROM cartera.shard_query(queries, 'agent_id bigint, capacity integer, queued bigint, backlog bigint, escalated bigint, turned_red bigint, moot bigint') q
     GROUP BY 1 ORDER BY 1 NULLS LAST;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_plan(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_plan(date) IS
  'part of the sharded functions: plan_day() over the shards shard_open() connected to, each agent''s queue ranked here over the open alerts of every shard; returns plan_day()''s figures per agent, summed';

-- plan_day() of a portfolio split over shards, for re-planning a day after
-- changing capacities (shard_followups() plans the day itself).
CREATE FUNCTION cartera.shard_plan_day(as_of date DEFAULT current_date)
  RETURNS TABLE (agent_id bigint, capacity integer, queued bigint, backlog bigint,
                 escalated bigint, turned_red bigint, moot bigint)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  opened text[];
BEGIN
  -- the coordinator's own checks first (arguments, its clock)
  PERFORM count(*) FROM cartera.plan_close_and_escalate(as_of);
  opened := cartera.shard_open();
  BEGIN
    RETURN QUERY SELECT * FROM cartera.shard_plan(as_of);
    PERFORM cartera.shard_close(opened, true);
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_close(opened, false);
    RAISE;
  END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_plan_day(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_plan_day(date) IS
  'plan_day() of a portfolio split over the shards of cartera.shard (on the coordinator, needs dblink): moot alerts and escalation on every shard, each agent''s queue ranked over the open alerts of all shards and filled up to the agent''s capacity; committed on every shard at the end; returns the figures per agent, summed';

-- The coordinator's window on the whole portfolio: in a schema of its own,
-- every per-customer table of the shards as one table (hash-partitioned by
-- customer_id like the coordinator's routing, one foreign partition per
-- shard; alert and alert_event, whose customer is not always known, as an
-- inheritance parent with one foreign child per shard) and a copy of every
-- view of cartera that reads them, the same SQL over those tables.  The
-- tables shared by every node (agent, agent_target, alert_kind, occasion,
-- portfolio_setting...) are read from the coordinator's own cartera schema.
-- Row-level security holds twice: the coordinator's copies of cartera's
-- policies on the parents, and each shard's own for the role its user
-- mapping logs in as (an agent's own mapping: the agent).  The foreign
-- partitions are the owner's only: reading one directly would skip the
-- coordinator's policies.
CREATE FUNCTION cartera.shard_views(target name DEFAULT 'portfolio')
  RETURNS TABLE (object text, kind text)
  LANGUAGE plpgsql
  -- deparsed views then name every object with its schema
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  servers text[];
  numbers json[];
  partitioned text[] := '{customer,customer_state,purchase,status_transition,interaction}';
  inherited text[] := '{alert,alert_event}';
  mapped text[];
  t text;
  v record;
  pol record;
  sql text;
  opened text[];
BEGIN
  IF target IS NULL OR target IN ('cartera', 'public', 'pg_catalog') OR target LIKE 'pg\_%' THEN
    RAISE EXCEPTION 'the views of the shards need a schema of their own, not %', coalesce(target::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Name a schema that does not exist yet, e.g. portfolio.';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = target) THEN
    RAISE EXCEPTION 'schema % already exists', target
      USING ERRCODE = 'duplicate_schema',
            HINT = format('Run DROP SCHEMA %I CASCADE first to build it again (after adding a shard, or updating cartera).', target);
  END IF;
  servers := cartera.shard_servers();
  -- each shard's place in the coordinator's hash partitions
  opened := cartera.shard_open();
  BEGIN
    SELECT array_agg(json_build_object('server', sv.server, 'shard', q.result->'shard', 'shards', q.result->'shards') ORDER BY sv.n)
      INTO numbers
      FROM unnest(servers) WITH ORDINALITY sv(server, n)
      LEFT JOIN cartera.shard_query(ARRAY['SELECT n.shard, n.shards FROM cartera.shard_number n'], 'shard integer, shards integer') q
        ON q.server = sv.server;
    PERFORM cartera.shard_close(opened, false);
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_close(opened, false);
    RAISE;
  END;
  FOR i IN 1 .. cardinality(numbers) LOOP
    IF json_typeof(numbers[i]->'shard') IS DISTINCT FROM 'number' THEN
      RAISE EXCEPTION 'shard "%" has no number', numbers[i]->>'server'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Run SELECT cartera.set_shard_number(shard, shards) on it: the REMAINDER and MODULUS of its hash partition.';
    END IF;
    IF (numbers[i]->>'shards')::integer <> cardinality(servers) THEN
      RAISE EXCEPTION 'shard "%" is shard % of %, but cartera.shard lists % shards', numbers[i]->>'server',
                      numbers[i]->>'shard', numbers[i]->>'shards', cardinality(servers)
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
  END LOOP;
  IF (SELECT count(DISTINCT x->>'shard') FROM unnest(numbers) x) <> cardinality(servers) THEN
    RAISE EXCEPTION 'two shards have the same number'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = (SELECT string_agg(format('%s: %s', x->>'server', x->>'shard'), ', ') FROM unnest(numbers) x);
  END IF;

  EXECUTE format('CREATE SCHEMA %I', target);
  object := target; kind := 'schema'; RETURN NEXT;
  EXECUTE format('COMMENT ON SCHEMA %I IS %L', target,
                 'the whole portfolio over the shards of cartera.shard, built by cartera.shard_views()');
  FOREACH t IN ARRAY partitioned || inherited LOOP
    IF t = ANY (partitioned) THEN
      EXECUTE format('CREATE TABLE %I.%I (LIKE cartera.%I) PARTITION BY HASH (customer_id)', target, t, t);
    ELSE
      EXECUTE format('CREATE TABLE %I.%I (LIKE cartera.%I)', target, t, t);
    END IF;
    object := format('%I.%I', target, t); kind := 'table'; RETURN NEXT;
    FOR i IN 1 .. cardinality(numbers) LOOP
      EXECUTE format('CREATE FOREIGN TABLE %I.%I %s SERVER %I OPTIONS (schema_name %L, table_name %L)',
                     target, t || '_' || (numbers[i]->>'server'),
                     CASE WHEN t = ANY (partitioned)
                          THEN format('PARTITION OF %I.%I FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
                                      target, t, numbers[i]->>'shards', numbers[i]->>'shard')
                          ELSE format('() INHERITS (%I.%I)', target, t) END,
                     numbers[i]->>'server', 'cartera', t);
      -- the owner's only: reading it directly would skip the parent's policies
      EXECUTE format('REVOKE ALL ON %I.%I FROM PUBLIC', target, t || '_' || (numbers[i]->>'server'));
    END LOOP;
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', target, t,
                   format('cartera.%s of every shard (%s); read-only here', t,
                          CASE WHEN t = ANY (partitioned) THEN 'hash-partitioned by customer_id as the coordinator routes it'
                               ELSE 'one foreign child table per shard' END));
  END LOOP;
  mapped := partitioned || inherited;

  -- cartera's policies, on the parents (reads only: nothing is written here)
  FOR pol IN
    SELECT p.tablename, p.policyname, p.roles, p.qual, p.permissive
      FROM pg_policies p
     WHERE p.schemaname = 'cartera' AND p.tablename = ANY (mapped) AND p.cmd IN ('SELECT', 'ALL') AND p.qual IS NOT NULL
  LOOP
    EXECUTE format('CREATE POLICY %I ON %I.%I AS %s FOR SELECT TO %s USING (%s)', pol.policyname, target, pol.tablename,
                   pol.permissive, (SELECT string_agg(CASE WHEN r = 'public' THEN 'PUBLIC' ELSE quote_ident(r) END, ', ')
                                      FROM unnest(pol.roles) r),
                   regexp_replace(pol.qual, '\mcartera\.(' || array_to_string(mapped, '|') || ')\M(?!\s*\()',
                                  quote_ident(target) || '.\1', 'g'));
  END LOOP;
  FOREACH t IN ARRAY mapped LOOP
    IF (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = format('cartera.%I', t)::regclass) THEN
      EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', target, t);
    END IF;
  END LOOP;

  -- every view of cartera that reads them (or a view that does), in the
  -- order they were created, so a view comes after those it reads
  FOR v IN
    WITH RECURSIVE reads AS (
      SELECT DISTINCT r.ev_class AS view
        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
       WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
         AND d.refobjid IN (SELECT format('cartera.%I', m)::regclass FROM unnest(mapped) m)
      UNION
      SELECT r.ev_class
        FROM reads x JOIN pg_depend d ON d.refobjid = x.view AND d.classid = 'pg_rewrite'::regclass
        JOIN pg_rewrite r ON r.oid = d.objid AND r.ev_class <> x.view)
    SELECT c.oid, c.relname FROM pg_class c
     WHERE c.oid IN (SELECT view FROM reads) AND c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'v'
       AND c.relname NOT LIKE 'deferred\_%'
     ORDER BY c.oid
  LOOP
    mapped := mapped || v.relname::text;
    sql := regexp_replace(pg_get_viewdef(v.oid), '\mcartera\.(' || array_to_string(mapped, '|') || ')\M(?!\s*\()',
                          quote_ident(target) || '.\1', 'g');
    EXECUTE format('CREATE VIEW %I.%I WITH (security_invoker = true) AS %s', target, v.relname, rtrim(sql, ';'));
    EXECUTE format('COMMENT ON VIEW %I.%I IS %L', target, v.relname,
                   coalesce(obj_description(v.oid, 'pg_class'), v.relname) || ' (every shard)');
    FOR pol IN SELECT a.attname, col_description(v.oid, a.attnum) AS note FROM pg_attribute a
                WHERE a.attrelid = v.oid AND a.attnum > 0 AND col_description(v.oid, a.attnum) IS NOT NULL LOOP
      EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', target, v.relname, pol.attname, pol.note);
    END LOOP;
    object := format('%I.%I', target, v.relname); kind := 'view'; RETURN NEXT;
  END LOOP;

  -- whoever may read cartera's table or view may read its copy
  FOR v IN
    SELECT c.relname, a.grantee::regrole AS grantee
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'cartera'::regnamespace AND c.relname = ANY (mapped) AND a.privilege_type = 'SELECT'
       AND a.grantee <> 0 AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT SELECT ON %I.%I TO %s', target, v.relname, v.grantee);
  END LOOP;
  FOR v IN
    SELECT DISTINCT a.grantee::regrole AS grantee FROM pg_namespace n, aclexplode(n.nspacl) a
     WHERE n.nspname = 'cartera' AND a.privilege_type = 'USAGE' AND a.grantee <> 0 AND a.grantee <> n.nspowner
  LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', target, v.grantee);
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_views(name) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_views(name) IS
  'on the coordinator (needs dblink and numbered shards): creates schema target with cartera''s per-customer tables of every shard as one table each (hash partitions or foreign children) and a copy of every view of cartera that reads them, with cartera''s row-level security policies and read grants; returns what it created';

------------------------------------------------------------------------------
-- A shard's number: ids unique across the cluster, customers placed by hash
------------------------------------------------------------------------------

-- Which shard this database is: the remainder and modulus of the
-- coordinator's hash partitions of customer_id (set once with
-- cartera.set_shard_number(); dumped with the data).
CREATE TABLE cartera.shard_number (
  singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT shard_number_one_row CHECK (singleton),
  shard      integer NOT NULL,
  shards     integer NOT NULL,
  set_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT shard_number_range CHECK (shards BETWEEN 1 AND 32768 AND shard >= 0 AND shard < shards)
);
COMMENT ON TABLE cartera.shard_number IS
  'on a shard: its number (the remainder of the coordinator''s hash partitions of customer_id) and the number of shards (their modulus), set by cartera.set_shard_number()';
COMMENT ON COLUMN cartera.shard_number.singleton IS 'always true: one row';
COMMENT ON COLUMN cartera.shard_number.shard IS 'this shard: REMAINDER of FOR VALUES WITH (MODULUS shards, REMAINDER shard); its ids are in [shard * 2^48 + 1, (shard + 1) * 2^48)';
COMMENT ON COLUMN cartera.shard_number.shards IS 'the number of shards: the MODULUS';
COMMENT ON COLUMN cartera.shard_number.set_at IS 'when it was set';
SELECT pg_catalog.pg_extension_config_dump('cartera.shard_number', '');

-- An empty table partitioned as the coordinator's tables are: the hash of a
-- customer_id, hence its shard, is satisfies_hash_partition() over it.
CREATE TABLE cartera.shard_route (customer_id bigint) PARTITION BY HASH (customer_id);
COMMENT ON TABLE cartera.shard_route IS
  'empty; partitioned by hash of customer_id as the coordinator''s tables are, so that a shard can tell which shard a customer belongs to';
COMMENT ON COLUMN cartera.shard_route.customer_id IS 'the partition key';

-- The shard a customer belongs to (NULL when this database is not a numbered shard).
CREATE FUNCTION cartera.shard_of(customer_id bigint) RETURNS integer
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  n cartera.shard_number;
BEGIN
  SELECT * INTO n FROM cartera.shard_number;
  IF n IS NULL OR customer_id IS NULL THEN
    RETURN NULL;
  END IF;
  FOR r IN 0 .. n.shards - 1 LOOP
    IF satisfies_hash_partition('cartera.shard_route'::regclass, n.shards, r, customer_id) THEN
      RETURN r;
    END IF;
  END LOOP;
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION cartera.shard_of(bigint) IS
  'on a numbered shard: the shard a customer id belongs to (the coordinator''s hash partitioning); NULL elsewhere';

-- Customers of two shards are never related here: a clear error instead of
-- a foreign key violation or "does not exist".  role: how the caller names
-- the customer; action: what relates the two.  Returns true (the customer
-- belongs here, or this database is not a numbered shard).
CREATE FUNCTION cartera.refuse_other_shard(customer_id bigint, role text, action text) RETURNS boolean
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  n cartera.shard_number;
  theirs integer := cartera.shard_of(customer_id);
BEGIN
  SELECT * INTO n FROM cartera.shard_number;
  IF theirs IS NOT NULL AND theirs <> n.shard THEN
    RAISE EXCEPTION 'customer % (%) belongs to shard %, not to this one (shard % of %)', customer_id, role, theirs, n.shard, n.shards
      USING ERRCODE = 'feature_not_supported',
            DETAIL = format('%s relates two customers, and every customer''s rows live on the shard of its id''s hash: customers of two shards are never related.', action),
            HINT = 'Record it where both customers are (on one server), or as text (customer.referral_source); docs/scaling.md.';
  END IF;
  RETURN true;
END
$fn$;
COMMENT ON FUNCTION cartera.refuse_other_shard(bigint, text, text) IS
  'on a numbered shard: raises 0A000 when the customer belongs to another shard (a referral or a merge across shards); else returns true; changes nothing';

-- A referral to a customer of another shard: refused clearly (the foreign
-- key would say only that the referrer does not exist).
CREATE FUNCTION cartera.customer_referrer_placed() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  PERFORM cartera.refuse_other_shard(NEW.referred_by, 'the referrer', 'A referral');
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_referrer_placed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_referrer_placed() IS
  'BEFORE INSERT OR UPDATE OF referred_by trigger of cartera.customer: on a numbered shard, refuses a referrer of another shard';
CREATE TRIGGER customer_referrer_placed BEFORE INSERT OR UPDATE OF referred_by ON cartera.customer
  FOR EACH ROW WHEN (NEW.referred_by IS NOT NULL) EXECUTE FUNCTION cartera.customer_referrer_placed();

-- The identity sequences of the per-customer rows that live on shards.
CREATE FUNCTION cartera.shard_sequences() RETURNS TABLE (relation regclass, id_column name, sequence regclass)
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT t.rel::regclass, t.col::name, pg_catalog.pg_get_serial_sequence(t.rel, t.col)::regclass
    FROM (VALUES ('cartera.purchase', 'purchase_id'), ('cartera.status_transition', 'transition_id'),
                 ('cartera.alert', 'alert_id'), ('cartera.alert_event', 'event_id'),
                 ('cartera.interaction', 'interaction_id'), ('cartera.customer_merge', 'merge_id')) t(rel, col)
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_sequences() FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_sequences() IS
  'the identity columns of the per-customer tables that cartera.set_shard_number() gives each shard a block of';

-- Number this database as shard `shard` of `shards`: its per-customer ids
-- (purchases, transitions, alerts and their events, interactions, merges)
-- come from the block [shard * 2^48 + 1, (shard + 1) * 2^48), unique across
-- the cluster; referrals and merges with customers of other shards are
-- refused clearly.  A block survives pg_dump (the sequence's value does).
CREATE FUNCTION cartera.set_shard_number(shard integer, shards integer)
  RETURNS TABLE (relation regclass, next_id bigint)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  was cartera.shard_number;
  lo bigint;
  hi bigint;
  s record;
  outside bigint;
  top bigint;
BEGIN
  IF shard IS NULL OR shards IS NULL THEN
    RAISE EXCEPTION 'shard and shards must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF shards NOT BETWEEN 1 AND 32768 OR shard NOT BETWEEN 0 AND shards - 1 THEN
    RAISE EXCEPTION 'shard % of % is out of range', shard, shards
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'shards is the MODULUS of the coordinator''s hash partitions (1 to 32768), shard this one''s REMAINDER (0 to shards - 1).';
  END IF;
  LOCK TABLE cartera.shard_number IN EXCLUSIVE MODE;
  SELECT * INTO was FROM cartera.shard_number;
  IF was IS NOT NULL AND (was.shard, was.shards) IS DISTINCT FROM (shard, shards) THEN
    RAISE EXCEPTION 'this database is already shard % of %', was.shard, was.shards
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Its customers and ids were placed by that number.',
            HINT = 'Changing the number of shards moves customers between them: reload them into shards numbered anew.';
  END IF;
  lo := shard::bigint << 48;
  hi := lo + (1::bigint << 48) - 1;
  FOR s IN SELECT * FROM cartera.shard_sequences() ORDER BY 1 LOOP
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', s.relation);
    EXECUTE format('SELECT count(*) FILTER (WHERE %1$I NOT BETWEEN $1 AND $2), max(%1$I) FILTER (WHERE %1$I BETWEEN $1 AND $2) FROM %2$s',
                   s.id_column, s.relation)
      INTO outside, top USING lo + 1, hi;
    IF outside > 0 THEN
      RAISE EXCEPTION 'table % has ids outside shard %''s block (% rows)', s.relation, shard, outside
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('Shard %s gives ids from %s to %s; ids given before it was numbered could be given again by another shard.', shard, lo + 1, hi),
              HINT = 'Number every shard before loading it (docs/scaling.md).';
    END IF;
    -- the block's bounds while this server lives; the next id survives a dump
    EXECUTE format('ALTER SEQUENCE %s MINVALUE %s MAXVALUE %s START WITH %s RESTART WITH %s', s.sequence, lo + 1, hi,
                   lo + 1, coalesce(top + 1, lo + 1));
    relation := s.relation;
    next_id := coalesce(top + 1, lo + 1);
    RETURN NEXT;
  END LOOP;
  INSERT INTO cartera.shard_number AS n (shard, shards) VALUES (shard, shards)
    ON CONFLICT (singleton) DO NOTHING;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.set_shard_number(integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION cartera.set_shard_number(integer, integer) IS
  'number this database as shard `shard` of `shards` (the REMAINDER and MODULUS of the coordinator''s hash partitions of customer_id): its purchase, transition, alert, alert event, interaction and merge ids come from the block [shard * 2^48 + 1, (shard + 1) * 2^48), unique across the cluster, and referrals and merges with customers of other shards are refused; refuses rows already outside the block and a different number than the one set; returns each table and its next id';

------------------------------------------------------------------------------
-- Bulk loads through the coordinator
------------------------------------------------------------------------------

-- Set every shard's cartera.purchase mode (modes[i] on the i-th of servers;
-- one mode: on every shard), each committed at once on its shard (dblink
-- with the server's name, outside any open transaction of the caller's);
-- returns the modes they had.
CREATE FUNCTION cartera.shard_purchase_modes(servers text[], modes text[]) RETURNS text[]
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  was text[] := '{}';
  mode text;
BEGIN
  IF cardinality(modes) NOT IN (1, cardinality(servers)) THEN
    RAISE EXCEPTION 'shard_purchase_modes() needs one mode, or one per shard (%), not %', cardinality(servers), cardinality(modes)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR i IN 1 .. cardinality(servers) LOOP
    EXECUTE format('SELECT m FROM %I.dblink($1, $2) AS t(m text)', dbl)
      INTO mode USING servers[i], format('SELECT cartera.set_purchase_mode(''cartera.purchase'', %L)',
                                         modes[CASE WHEN cardinality(modes) = 1 THEN 1 ELSE i END]);
    was := was || mode;
  END LOOP;
  RETURN was;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_purchase_modes(text[], text[]) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_purchase_modes(text[], text[]) IS
  'part of shard_load(): sets the mode of cartera.purchase on every shard (modes[i] on the i-th server; one mode: on every shard), each committed at once; returns the modes they had';

-- Load the rows of `purchases` (a table or view whose columns named as
-- cartera.purchase's go in; customer_id among them) into `target`, the
-- coordinator's table partitioned over the shards' cartera.purchase:
-- postgres_fdw routes each row to its shard in batches.  For the load every
-- shard's cartera.purchase is in deferred mode, so each batch only queues
-- its customers' states; then every shard applies its queue once
-- (catch_up()) and gets its mode back.  A procedure, because the load must
-- commit before the shards can apply it; hence no SET clause either (every
-- name below is qualified), and CALL it outside a transaction block.
CREATE PROCEDURE cartera.shard_load(purchases regclass, target regclass,
                                    INOUT loaded bigint DEFAULT NULL, INOUT applied bigint DEFAULT NULL)
  LANGUAGE plpgsql
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  servers text[];
  modes text[];
  cols text;
  n bigint;
BEGIN
  IF purchases IS NULL OR target IS NULL THEN
    RAISE EXCEPTION 'the purchases to load and the target table must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = target AND c.relkind = 'p') THEN
    RAISE EXCEPTION '% is not a partitioned table', target
      USING ERRCODE = 'wrong_object_type',
            HINT = 'Load into the coordinator''s table partitioned by hash of customer_id over the shards'' cartera.purchase (docs/scaling.md).';
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = purchases AND a.attnum > 0 AND NOT a.attisdropped
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute t
                  WHERE t.attrelid = target AND t.attname = a.attname AND t.attnum > 0 AND NOT t.attisdropped);
  IF cols IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                  WHERE a.attrelid = purchases AND a.attname = 'customer_id' AND NOT a.attisdropped) THEN
    RAISE EXCEPTION '% has no column customer_id that % has', purchases, target
      USING ERRCODE = 'undefined_column',
            HINT = 'The columns of the purchases named as the target''s are loaded; customer_id routes them.';
  END IF;
  servers := cartera.shard_servers();

  -- 1. every shard in deferred mode (committed: the load's own connections must see it)
  modes := cartera.shard_purchase_modes(servers, ARRAY['deferred']);
  COMMIT;

  -- 2. the load, routed by the partitions (a failure puts the modes back)
  BEGIN
    EXECUTE pg_catalog.format('INSERT INTO %s (%s) SELECT %s FROM %s', target, cols, cols, purchases);
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_purchase_modes(servers, modes);
    RAISE;
  END;
  loaded := n;
  COMMIT;

  -- 3. every shard applies its queue once and gets its mode back
  applied := 0;
  FOR i IN 1 .. pg_catalog.array_length(servers, 1) LOOP
    EXECUTE pg_catalog.format('SELECT p FROM %I.dblink($1, $2) AS t(p bigint)', dbl)
      INTO n USING servers[i], 'SELECT purchases FROM cartera.catch_up()';
    applied := applied + n;
  END LOOP;
  PERFORM cartera.shard_purchase_modes(servers, modes);
END
$fn$;
REVOKE EXECUTE ON PROCEDURE cartera.shard_load(regclass, regclass, bigint, bigint) FROM PUBLIC;
COMMENT ON PROCEDURE cartera.shard_load(regclass, regclass, bigint, bigint) IS
  'bulk load on the coordinator (CALL, outside a transaction block; needs dblink): the rows of purchases go into target, the table partitioned over the shards'' cartera.purchase, with every shard in deferred mode for the load; then every shard applies its queue once and gets its mode back; returns the rows loaded and the purchases applied';

------------------------------------------------------------------------------
-- Alert notifications of the shards, relayed to the coordinator
------------------------------------------------------------------------------

-- NOTIFY cartera_alert is sent where an alert is raised: on its shard.  The
-- relay listens on every shard (a dblink connection each, kept for the
-- session) and sends each notification again on the coordinator, its
-- payload with the shard first: {"shard": "shard0", "id" : ..., "kind" : ...}.
-- It runs for `seconds` (pg_cron every minute with 60, or a session of its
-- own with a longer time), polls every `poll` seconds and commits after each
-- poll (a NOTIFY is delivered at commit): a procedure, without a SET clause
-- (every name below is qualified).  Returns how many it relayed.
CREATE PROCEDURE cartera.shard_relay(seconds double precision DEFAULT 60, poll double precision DEFAULT 0.2,
                                     INOUT relayed bigint DEFAULT NULL)
  LANGUAGE plpgsql
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  servers text[];
  stop timestamptz;
  open_now text[];
  note record;
BEGIN
  IF seconds IS NULL OR poll IS NULL OR NOT (seconds > 0 AND seconds < 'infinity' AND poll > 0 AND poll <= 60) THEN
    RAISE EXCEPTION 'the relay needs a finite positive time and a poll interval of at most 60 seconds, not % and %',
                    coalesce(seconds::text, 'NULL'), coalesce(poll::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  servers := cartera.shard_servers();
  stop := pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => seconds);
  EXECUTE pg_catalog.format('SELECT %I.dblink_get_connections()', dbl) INTO open_now;
  FOR i IN 1 .. pg_catalog.array_length(servers, 1) LOOP
    IF open_now IS NULL OR NOT ('cartera_relay_' || servers[i]) = ANY (open_now) THEN
      EXECUTE pg_catalog.format('SELECT %I.dblink_connect($1, $2)', dbl) USING 'cartera_relay_' || servers[i], servers[i];
    END IF;
    EXECUTE pg_catalog.format('SELECT %I.dblink_exec($1, $2)', dbl) USING 'cartera_relay_' || servers[i], 'LISTEN cartera_alert';
  END LOOP;
  relayed := 0;
  LOOP
    FOR i IN 1 .. pg_catalog.array_length(servers, 1) LOOP
      FOR note IN EXECUTE pg_catalog.format('SELECT n.notify_name, n.extra FROM %I.dblink_get_notify($1) n', dbl)
                    USING 'cartera_relay_' || servers[i] LOOP
        PERFORM pg_catalog.pg_notify('cartera_alert',
                  CASE WHEN pg_catalog.left(note.extra, 1) = '{' AND pg_catalog.length(note.extra) > 2
                       THEN '{"shard" : ' || pg_catalog.to_json(servers[i])::text || ', ' || pg_catalog.substr(note.extra, 2)
                       ELSE note.extra END);
        relayed := relayed + 1;
      END LOOP;
    END LOOP;
    COMMIT;
    EXIT WHEN pg_catalog.clock_timestamp() >= stop;
    PERFORM pg_catalog.pg_sleep(poll);
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON PROCEDURE cartera.shard_relay(double precision, double precision, bigint) FROM PUBLIC;
COMMENT ON PROCEDURE cartera.shard_relay(double precision, double precision, bigint) IS
  'on the coordinator (CALL, outside a transaction block; needs dblink): for `seconds`, relays every shard''s NOTIFY cartera_alert to the coordinator''s listeners, the payload with the shard first ({"shard" : "<server>", "id" : ...}), polling every `poll` seconds; returns how many it relayed';
-- END shards

-- BEGIN restore
------------------------------------------------------------------------------
-- 0.4.0: backup and restore without a superuser (docs/data-model.md#backups,
-- docs/security.md#backup-and-restore-by-a-manager).
--
-- pg_dump keeps the user rows of every table (pg_extension_config_dump),
-- the derived ones too (customer_state, status_transition, alert).  Loading
-- them into a new database must not fire the maintenance, which would add
-- state rows, transitions and alerts a second time.  A superuser can turn
-- the triggers off with session_replication_role = replica; a manager
-- cannot, and also meets row-level security (COPY FROM is refused on a table
-- under it), tables only the maintenance writes, and the setval() calls of
-- the dump.  cartera.pre_restore() and cartera.post_restore(), executable
-- by managers, frame the restore instead: pre_restore() accepts only a new,
-- empty portfolio that no other role may read, then turns off the
-- maintenance triggers and row-level security and lets cartera_manager
-- write what the dump holds; post_restore() checks the restored state
-- against the purchases (recomputing what does not match) and undoes all
-- of it.  While
-- the restore is open run_followups() and refresh() refuse to run (the
-- daily job fails loudly) and grant_agent_role() refuses agents.
------------------------------------------------------------------------------

-- The extension's description would be dumped as COMMENT ON EXTENSION,
-- which only the extension's owner may run: a restore by anyone else would
-- fail on it.  pg_available_extensions still shows the control file's.
COMMENT ON EXTENSION cartera IS NULL;

CREATE TABLE cartera.restore_in_progress (
  singleton         boolean PRIMARY KEY DEFAULT true CONSTRAINT restore_in_progress_one_row CHECK (singleton),
  started_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  started_by        name NOT NULL DEFAULT session_user,
  row_security_off  regclass[] NOT NULL,
  triggers_off      oid[] NOT NULL
);
COMMENT ON TABLE cartera.restore_in_progress IS
  'one row from cartera.pre_restore() to cartera.post_restore(): a restore is loading this database (maintenance triggers and row-level security are off)';
COMMENT ON COLUMN cartera.restore_in_progress.started_at IS 'when cartera.pre_restore() ran';
COMMENT ON COLUMN cartera.restore_in_progress.started_by IS 'the session user who ran cartera.pre_restore()';
COMMENT ON COLUMN cartera.restore_in_progress.row_security_off IS 'tables whose row-level security pre_restore() turned off (post_restore() turns it on)';
COMMENT ON COLUMN cartera.restore_in_progress.triggers_off IS 'maintenance triggers (pg_trigger oids) pre_restore() disabled (post_restore() enables them)';

-- What may not run while a restore is open: it would work on a half-loaded
-- portfolio, or (agents' grants) see it without row-level security.
CREATE FUNCTION cartera.refuse_while_restoring(action text) RETURNS void
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  r cartera.restore_in_progress;
BEGIN
  SELECT * INTO r FROM cartera.restore_in_progress x;
  IF FOUND THEN
    RAISE EXCEPTION '% is not possible while cartera is being restored', action
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('%s started a restore with cartera.pre_restore() at %s; the maintenance triggers and row-level security are off until cartera.post_restore().',
                            r.started_by, r.started_at),
            HINT = 'When the restore has finished, a manager runs: SELECT * FROM cartera.post_restore();';
  END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refuse_while_restoring(text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refuse_while_restoring(text) IS
  'raise 55000 naming the action when a restore is open (cartera.pre_restore() without cartera.post_restore() yet)';

-- The maintenance triggers: what a restore must not fire.
CREATE FUNCTION cartera.maintenance_trigger_functions() RETURNS regprocedure[]
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT ARRAY['cartera.purchase_rows_added()', 'cartera.purchase_rows_deferred()', 'cartera.purchase_rows_changed()',
               'cartera.customer_rows_changed()',
               'cartera.customer_owner_missing()', 'cartera.interaction_rows_added()',
               'cartera.alert_rows_added()', 'cartera.alert_rows_changed()']::pg_catalog.regprocedure[]
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.maintenance_trigger_functions() FROM PUBLIC;
COMMENT ON FUNCTION cartera.maintenance_trigger_functions() IS
  'the trigger functions that maintain state, transitions, owners, alerts and their history (pre_restore() disables their triggers)';

-- Is the session user a manager (or the tables' owner, or a superuser)?
-- Inside a SECURITY DEFINER function current_user is the owner, so
-- is_manager() would always answer true there.
CREATE FUNCTION cartera.session_is_manager() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_roles r
     WHERE (r.rolname = 'cartera_manager'
            OR r.oid = (SELECT c.relowner FROM pg_catalog.pg_class c
                         WHERE c.oid = 'cartera.customer'::pg_catalog.regclass))
       AND pg_catalog.pg_has_role(session_user, r.oid, 'USAGE'))
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.session_is_manager() FROM PUBLIC;
COMMENT ON FUNCTION cartera.session_is_manager() IS
  'cartera.is_manager() for session_user: what pre_restore() and post_restore() check, being SECURITY DEFINER';

-- The privileges a restore by a manager needs beyond a manager's own, given
-- to cartera_manager by pre_restore() and taken back by post_restore():
-- writing the tables only the maintenance writes, setval() on the identity
-- sequences, and the trigger functions that the triggers of tracked tables
-- in the dump call (CREATE TRIGGER needs EXECUTE; they refuse to run for a
-- table that is not a registered purchase source).
CREATE FUNCTION cartera.restore_privileges(grant_them boolean) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager regrole := (SELECT r.oid::pg_catalog.regrole FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
  verb text := CASE WHEN grant_them THEN 'GRANT' ELSE 'REVOKE' END;
  dir text := CASE WHEN grant_them THEN 'TO' ELSE 'FROM' END;
  tab regclass;
  cols text;
BEGIN
  IF manager IS NULL THEN
    RETURN;
  END IF;
  EXECUTE format('%s INSERT ON cartera.customer_state, cartera.status_transition, cartera.portfolio_model, '
                 'cartera.purchase_source, cartera.customer_merge, cartera.alert_event, cartera.model_history, '
                 'cartera.deferred_change, cartera.deferred_failure, cartera.deferred_run, '
                 'cartera.shard, cartera.shard_number %s %s',
                 verb, dir, manager);
  EXECUTE format('%s UPDATE ON ALL SEQUENCES IN SCHEMA cartera %s %s', verb, dir, manager);
  -- the dump's row of cartera.purchase sets its mode (purchase_source_restored())
  EXECUTE format('%s UPDATE (mode) ON cartera.purchase_source %s %s', verb, dir, manager);
  EXECUTE format('%s EXECUTE ON FUNCTION cartera.purchase_rows_added(), cartera.purchase_rows_deferred(), '
                 'cartera.purchase_rows_changed() %s %s',
                 verb, dir, manager);
  -- the ids the dump holds (managers may not choose ids otherwise)
  FOR tab, cols IN SELECT a.attrelid::pg_catalog.regclass, string_agg(pg_catalog.quote_ident(a.attname), ', ')
                     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                    WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'r'
                      AND a.attidentity <> '' AND NOT a.attisdropped
                    GROUP BY a.attrelid ORDER BY a.attrelid LOOP
    EXECUTE format('%s INSERT (%s) ON %s %s %s', verb, cols, tab, dir, manager);
  END LOOP;
  IF NOT grant_them THEN
    -- a table-level REVOKE took the manager's own INSERT on customer_merge
    -- (merges) with it: the manager's privileges as grant_manager_role() gives them
    PERFORM cartera.grant_manager_role(manager);
  END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.restore_privileges(boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.restore_privileges(boolean) IS
  'grant (true) or revoke (false) what cartera_manager needs to load a dump: INSERT on the derived tables and on the id columns, UPDATE on the identity sequences, EXECUTE on the purchase trigger functions (revoking gives back the privileges of grant_manager_role())';

-- A purchase source is read by the maintenance with the owner's rights:
-- whoever registers one must be able to read it (a manager restoring a dump
-- registers the tracked tables it restores).
CREATE FUNCTION cartera.purchase_source_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF NOT pg_catalog.has_table_privilege(NEW.source, 'SELECT') THEN
    RAISE EXCEPTION 'permission denied to track the purchases of %', NEW.source
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'cartera reads every purchase source with the rights of the extension''s owner: only a role that may read a table may register it.';
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.purchase_source_check() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_source_check() IS
  'row trigger of cartera.purchase_source: the role registering a purchase source must be able to read it';
CREATE TRIGGER purchase_source_check BEFORE INSERT OR UPDATE ON cartera.purchase_source
  FOR EACH ROW EXECUTE FUNCTION cartera.purchase_source_check();

-- cartera.purchase's row exists from CREATE EXTENSION; a dump carries it
-- only when its mode is not the default (pg_extension_config_dump): loading
-- that row sets the mode (post_restore() then creates the trigger for it).
CREATE FUNCTION cartera.purchase_source_restored() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF NEW.source = 'cartera.purchase'::pg_catalog.regclass
     AND EXISTS (SELECT 1 FROM cartera.purchase_source p WHERE p.source = NEW.source) THEN
    UPDATE cartera.purchase_source p SET mode = NEW.mode WHERE p.source = NEW.source;
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.purchase_source_restored() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_source_restored() IS
  'row trigger of cartera.purchase_source: the row of cartera.purchase loaded from a dump sets its mode instead of failing as a duplicate';
CREATE TRIGGER purchase_source_restored BEFORE INSERT ON cartera.purchase_source
  FOR EACH ROW EXECUTE FUNCTION cartera.purchase_source_restored();

-- Before restoring a dump into a database where an administrator has just
-- run CREATE EXTENSION cartera (and grant_manager_role()).
CREATE FUNCTION cartera.pre_restore() RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
  r cartera.restore_in_progress;
  t regclass;
  cond text;
  filled boolean;
  readers text;
  rls regclass[];
  trg oid[];
BEGIN
  IF NOT cartera.session_is_manager() THEN
    RAISE EXCEPTION 'only a manager may restore a portfolio' USING ERRCODE = 'insufficient_privilege',
      DETAIL = format('Role %s is not a member of cartera_manager.', session_user);
  END IF;
  SELECT * INTO r FROM cartera.restore_in_progress x FOR UPDATE;
  IF FOUND THEN
    RAISE EXCEPTION 'cartera is already being restored' USING ERRCODE = 'object_not_in_prerequisite_state',
      DETAIL = format('%s ran cartera.pre_restore() at %s.', r.started_by, r.started_at),
      HINT = 'Load the dump, then run SELECT * FROM cartera.post_restore();';
  END IF;
  -- a new portfolio only: every table pg_dump restores into is empty (but
  -- the alert kinds, which the dump's rows replace: cartera.alert_kind_restored)
  FOR t, cond IN SELECT x.t, x.cond
                   FROM pg_catalog.pg_extension e, unnest(e.extconfig::pg_catalog.regclass[], e.extcondition) x(t, cond)
                  WHERE e.extname = 'cartera' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = x.t) = 'r'
                    AND x.t <> 'cartera.alert_kind'::pg_catalog.regclass
                  ORDER BY x.t::oid LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s %s)', t, cond) INTO filled;
    IF filled THEN
      RAISE EXCEPTION 'cartera.% is not empty', (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = t)
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'cartera.pre_restore() prepares a new database, where CREATE EXTENSION cartera has just run, for the dump of another one.',
              HINT = 'Restore into a new database.';
    END IF;
  END LOOP;
  -- row-level security goes off: nobody but managers may use the tables
  SELECT string_agg(DISTINCT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::pg_catalog.regrole::text END, ', ')
    INTO readers
    FROM pg_catalog.pg_class c
    CROSS JOIN LATERAL (SELECT a.grantee FROM pg_catalog.aclexplode(c.relacl) a
                        UNION
                        SELECT a.grantee FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) a
                         WHERE att.attrelid = c.oid) g
   WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'r' AND c.relrowsecurity
     AND (g.grantee = 0
          OR NOT (pg_catalog.pg_has_role(g.grantee, c.relowner, 'USAGE')
                  OR (manager IS NOT NULL AND pg_catalog.pg_has_role(g.grantee, manager, 'USAGE'))
                  OR (SELECT x.rolsuper OR x.rolbypassrls FROM pg_catalog.pg_roles x WHERE x.oid = g.grantee)));
  IF readers IS NOT NULL THEN
    RAISE EXCEPTION 'roles that are not managers may use the portfolio tables: %', readers
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Row-level security is off from cartera.pre_restore() to cartera.post_restore(): they would see and change every portfolio meanwhile.',
            HINT = 'Grant the agent roles after cartera.post_restore(); until then revoke them, e.g. REVOKE ALL ON ALL TABLES IN SCHEMA cartera FROM cartera_agent;';
  END IF;

  rls := ARRAY(SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c
                WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'r' AND c.relrowsecurity
                ORDER BY c.oid);
  trg := ARRAY(SELECT g.oid FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
                WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND NOT g.tgisinternal AND g.tgenabled <> 'D'
                  AND g.tgfoid = ANY (cartera.maintenance_trigger_functions())
                ORDER BY g.oid);
  INSERT INTO cartera.restore_in_progress (row_security_off, triggers_off) VALUES (rls, trg);
  FOREACH t IN ARRAY rls LOOP
    EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', t);
  END LOOP;
  FOR t, cond IN SELECT g.tgrelid::pg_catalog.regclass, g.tgname FROM pg_catalog.pg_trigger g
                  WHERE g.oid = ANY (trg) ORDER BY g.oid LOOP
    EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', t, cond);
  END LOOP;
  PERFORM cartera.restore_privileges(true);
  RETURN true;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.pre_restore() FROM PUBLIC;
COMMENT ON FUNCTION cartera.pre_restore() IS
  'start restoring a dump into a new database (managers): refuses unless the portfolio is empty and only managers may use it; turns off the maintenance triggers and row-level security and lets cartera_manager write the derived tables until cartera.post_restore()';

-- After the dump is loaded.
CREATE FUNCTION cartera.post_restore()
  RETURNS TABLE (customers bigint, repaired bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  r cartera.restore_in_progress;
  stale bigint[];
  t regclass;
  trigger_name name;
BEGIN
  IF NOT cartera.session_is_manager() THEN
    RAISE EXCEPTION 'only a manager may restore a portfolio' USING ERRCODE = 'insufficient_privilege',
      DETAIL = format('Role %s is not a member of cartera_manager.', session_user);
  END IF;
  SELECT * INTO r FROM cartera.restore_in_progress x FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'cartera is not being restored' USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'cartera.pre_restore() starts a restore into a new database.';
  END IF;

  -- 1. the state must be what the purchases say: rfm() of each customer's
  -- rows at the state's as_of, and no row after it when the state is kept
  -- for merging.  A customer for whom it is not (rows written outside the
  -- dump while restoring, a partial dump) is recomputed now; a complete
  -- restore recomputes nobody, and logs no transition.
  LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  EXECUTE format($q$
    WITH r AS (%s),
    computed AS (
      SELECT r.customer_id, cartera.rfm(r.purchased_at, r.amount, s.as_of) AS summary, max(r.purchased_at) AS latest
        FROM r JOIN (SELECT s.customer_id, (s.summary).as_of FROM cartera.customer_state s) s USING (customer_id)
       GROUP BY r.customer_id, s.as_of)
    SELECT array_agg(DISTINCT x.customer_id ORDER BY x.customer_id) FROM (
      SELECT s.customer_id FROM cartera.customer_state s LEFT JOIN computed c USING (customer_id)
       WHERE CASE WHEN c.customer_id IS NULL THEN (s.summary).purchases IS DISTINCT FROM 0
                  ELSE s.summary IS DISTINCT FROM c.summary
                       OR (s.rfm_state IS NOT NULL AND c.latest > (s.summary).as_of) END
      UNION ALL
      SELECT r.customer_id FROM r
       WHERE NOT EXISTS (SELECT 1 FROM cartera.customer_state s WHERE s.customer_id = r.customer_id)
      UNION ALL
      SELECT c.customer_id FROM cartera.customer c
       WHERE NOT EXISTS (SELECT 1 FROM cartera.customer_state s WHERE s.customer_id = c.customer_id)) x
     WHERE x.customer_id IS NOT NULL$q$, cartera.purchase_rows_sql())
    INTO stale;
  IF stale IS NOT NULL THEN
    PERFORM count(*) FROM cartera.recompute_state(stale, clock_timestamp());
  END IF;
  repaired := coalesce(array_length(stale, 1), 0);

  -- 2. everything back on
  FOR t, trigger_name IN SELECT g.tgrelid::pg_catalog.regclass, g.tgname FROM pg_catalog.pg_trigger g
                          WHERE g.oid = ANY (r.triggers_off) ORDER BY g.oid LOOP
    EXECUTE format('ALTER TABLE %s ENABLE TRIGGER %I', t, trigger_name);
  END LOOP;
  FOREACH t IN ARRAY r.row_security_off LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
  END LOOP;
  -- cartera.purchase's own mode comes with the dump's purchase_source row
  -- (tracked tables bring their triggers with them)
  IF (SELECT p.mode FROM cartera.purchase_source p WHERE p.source = 'cartera.purchase'::pg_catalog.regclass) = 'deferred' THEN
    PERFORM cartera.purchase_insert_trigger('cartera.purchase');
  END IF;
  DELETE FROM cartera.restore_in_progress;
  PERFORM cartera.restore_privileges(false);
  customers := (SELECT count(*) FROM cartera.customer_state);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.post_restore() FROM PUBLIC;
COMMENT ON FUNCTION cartera.post_restore() IS
  'end a restore started by cartera.pre_restore() (managers): recompute customers whose restored state does not match their purchases, turn the maintenance triggers and row-level security back on, take back the restore privileges; returns state rows and customers recomputed';
-- END restore


------------------------------------------------------------------------------
-- 1b. Follow-ups (issue 15): twin of sql/cartera_followups.sql
-- (tools/refresh-upgrade), then the changed policy and views
------------------------------------------------------------------------------
-- BEGIN followups
------------------------------------------------------------------------------
-- 0.4.0: follow-ups that work (docs/followups.md).  Each agent has a daily
-- capacity; the daily job ranks the open alerts by what is at stake and
-- queues each agent's share, the rest waits as backlog; alerts nobody worked
-- that no longer apply close as moot; overdue amber turns red and overdue red
-- goes to the manager.  Every change of an alert is logged (alert_event).
-- A share of the eligible customers of each contact kind is held out at
-- random (recorded, never queued nor notified) so that the outcome views can
-- measure what the alerts add.  This script is the same in a fresh install
-- and in the upgrade from 0.3.0 (it only adds to the tables of 0.2.0).
------------------------------------------------------------------------------

ALTER TABLE cartera.agent
  ADD COLUMN daily_capacity integer CONSTRAINT agent_daily_capacity CHECK (daily_capacity >= 0),
  ADD COLUMN manager_id bigint CONSTRAINT agent_manager_id_fkey REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  ADD CONSTRAINT agent_not_own_manager CHECK (manager_id <> agent_id);
COMMENT ON COLUMN cartera.agent.daily_capacity IS
  'alerts the agent can work in a day; NULL = the portfolio setting cartera.daily_capacity';
COMMENT ON COLUMN cartera.agent.manager_id IS
  'the agent''s manager (an agent row): red alerts overdue are escalated to them';

ALTER TABLE cartera.alert_kind
  ADD COLUMN response_window interval NOT NULL DEFAULT '30 days'
    CONSTRAINT alert_kind_response_window CHECK (response_window > interval '0'),
  ADD COLUMN holdout_share numeric NOT NULL DEFAULT 0.10
    CONSTRAINT alert_kind_holdout_share CHECK (holdout_share >= 0 AND holdout_share <= 0.5),
  ADD COLUMN holdout_period text NOT NULL DEFAULT 'month'
    CONSTRAINT alert_kind_holdout_period CHECK (holdout_period IN ('week', 'month', 'quarter', 'year'));
-- complaints are always handled, and agent tasks contact nobody: only the
-- contact kinds have a holdout group
UPDATE cartera.alert_kind SET holdout_share = 0 WHERE category IN ('service', 'internal');
ALTER TABLE cartera.alert_kind
  ADD CONSTRAINT alert_kind_holdout_contacts_only CHECK (holdout_share = 0 OR category IN ('relationship', 'marketing'));
-- The kinds are configuration a manager edits (cool-downs, messages, these
-- settings, new kinds): pg_dump keeps them.  The built-in rows exist in the
-- new database before the dump's rows arrive, so while a restore is open
-- (cartera.pre_restore(), or a superuser's session_replication_role =
-- replica) a row of an existing kind replaces it instead of failing on the
-- primary key.
SELECT pg_catalog.pg_extension_config_dump('cartera.alert_kind', '');
CREATE FUNCTION cartera.alert_kind_restored() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF (EXISTS (SELECT 1 FROM cartera.restore_in_progress)
      OR pg_catalog.current_setting('session_replication_role') = 'replica')
     AND EXISTS (SELECT 1 FROM cartera.alert_kind k WHERE k.kind = NEW.kind) THEN
    UPDATE cartera.alert_kind k
       SET colour = NEW.colour, category = NEW.category, due_days = NEW.due_days, cooldown = NEW.cooldown,
           message_es = NEW.message_es, message_en = NEW.message_en, enabled = NEW.enabled,
           response_window = NEW.response_window, holdout_share = NEW.holdout_share,
           holdout_period = NEW.holdout_period
     WHERE k.kind = NEW.kind;
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_kind_restored() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_kind_restored() IS
  'row trigger of cartera.alert_kind: while a restore is open, a dumped row of a kind that exists replaces it (the built-in kinds are there before the dump''s rows)';
CREATE TRIGGER alert_kind_restored BEFORE INSERT ON cartera.alert_kind
  FOR EACH ROW EXECUTE FUNCTION cartera.alert_kind_restored();
-- (fired in replica mode too: a superuser's restore)
ALTER TABLE cartera.alert_kind ENABLE ALWAYS TRIGGER alert_kind_restored;

COMMENT ON COLUMN cartera.alert_kind.response_window IS
  'how long after an alert a purchase counts as its outcome (cartera.alert_outcome)';
COMMENT ON COLUMN cartera.alert_kind.holdout_share IS
  'share of the eligible customers held out (0 .. 0.5; relationship and marketing kinds only): the alert is recorded as held_out, never queued nor notified, to measure uplift';
COMMENT ON COLUMN cartera.alert_kind.holdout_period IS
  'week, month, quarter or year: within one, a customer stays in the same group (alerted or held out) for the kind';

ALTER TABLE cartera.alert
  ADD COLUMN queue text CONSTRAINT alert_queue_known CHECK (queue IN ('queued', 'backlog')),
  ADD COLUMN queue_rank integer,
  ADD COLUMN queued_on date,
  ADD COLUMN value_at_stake numeric,
  ADD COLUMN outcome text CONSTRAINT alert_outcome_known
    CHECK (outcome IN ('reached', 'no_answer', 'won_back', 'declined', 'wrong_contact_data', 'do_not_contact', 'other')),
  ADD COLUMN escalated_at timestamptz,
  ADD COLUMN escalated_to bigint CONSTRAINT alert_escalated_to_fkey REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  DROP CONSTRAINT alert_status,
  ADD CONSTRAINT alert_status
    CHECK (status IN ('open', 'acknowledged', 'snoozed', 'done', 'dismissed', 'moot', 'held_out')),
  ADD CONSTRAINT alert_outcome_when_done CHECK (outcome IS NULL OR status = 'done');
CREATE INDEX alert_queue_idx ON cartera.alert (agent_id, queue_rank) WHERE status IN ('open', 'acknowledged');
COMMENT ON COLUMN cartera.alert.status IS
  'open, acknowledged (in progress), snoozed (until snoozed_until), done (with an outcome), dismissed, moot (closed by the daily job: no longer applies), held_out (holdout group: never queued nor notified)';
COMMENT ON COLUMN cartera.alert.queue IS
  'while open: queued (in the agent''s work for the day, up to capacity) or backlog (waits; re-ranked every day); NULL until the daily job ranks it (a complaint is queued at once) and once it is closed, snoozed or handed over';
COMMENT ON COLUMN cartera.alert.queued_on IS 'the day the alert entered the agent''s queue (NULL while in the backlog): queued work not done by the next day is what escalates';
COMMENT ON COLUMN cartera.alert.queue_rank IS 'position in the agent''s list at the last ranking (1 = first): in progress, colour, value at stake, due date';
COMMENT ON COLUMN cartera.alert.value_at_stake IS
  'what the alert is worth at the last ranking: predicted 12-month CLV x (1 - P(alive)), or the formula CLV before a model is fitted; 0 for agent alerts';
COMMENT ON COLUMN cartera.alert.outcome IS
  'what came of the contact (status done): reached, no_answer, won_back, declined, wrong_contact_data, do_not_contact, other';
COMMENT ON COLUMN cartera.alert.escalated_at IS 'when the daily job escalated the alert (red and past its due date)';
COMMENT ON COLUMN cartera.alert.escalated_to IS 'the manager it was escalated to (the agent''s manager_id; NULL = any manager)';

-- Every change of an alert: who, when, what.  Written by the triggers of
-- cartera.alert only (nobody else may write it); row-level security shows an
-- event to whoever sees its alert.
CREATE TABLE cartera.alert_event (
  event_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  alert_id    bigint NOT NULL REFERENCES cartera.alert (alert_id) ON DELETE CASCADE,
  customer_id bigint,
  happened_at timestamptz NOT NULL,
  actor       name NOT NULL,
  event       text NOT NULL CONSTRAINT alert_event_known CHECK (event IN (
                'raised', 'held_out', 'queued', 'backlogged', 'started', 'snoozed', 'reopened', 'handed_over',
                'recoloured', 'escalated', 'done', 'dismissed', 'moot')),
  from_value  text,
  to_value    text,
  note        text
);
CREATE INDEX alert_event_alert_idx ON cartera.alert_event (alert_id, happened_at);
COMMENT ON TABLE cartera.alert_event IS
  'the history of every alert: raised or held out, queued/backlogged, started, snoozed, reopened, handed over, recoloured, escalated, done, dismissed, moot; written by cartera only';
COMMENT ON COLUMN cartera.alert_event.event_id IS 'identity (sequence cartera.alert_event_event_id_seq): the order of the events';
COMMENT ON COLUMN cartera.alert_event.alert_id IS 'the alert that changed (its history goes with it)';
COMMENT ON COLUMN cartera.alert_event.customer_id IS 'the alert''s customer (NULL for an agent''s own alert), kept with each event so that the history lives with the customer''s other rows (a shard, a distribution column); merge_customers() moves it';
COMMENT ON COLUMN cartera.alert_event.happened_at IS 'when: the alert''s raised_at for raised/held_out, the clock time of the change otherwise';
COMMENT ON COLUMN cartera.alert_event.actor IS 'the role that made the change (the session''s role, also inside cartera''s own functions)';
COMMENT ON COLUMN cartera.alert_event.event IS 'what changed';
COMMENT ON COLUMN cartera.alert_event.from_value IS 'the value before (status, agent id, colour, queue)';
COMMENT ON COLUMN cartera.alert_event.to_value IS 'the value after (for done: the outcome; for escalated: the manager''s agent id)';
COMMENT ON COLUMN cartera.alert_event.note IS 'the note given with the change (the alert''s resolution)';
SELECT pg_catalog.pg_extension_config_dump('cartera.alert_event', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.alert_event', 'event_id'), '');
COMMENT ON SEQUENCE cartera.alert_event_event_id_seq IS 'identity of cartera.alert_event';

-- The role acting: SET ROLE's role, else the session user.  Inside a
-- SECURITY DEFINER function current_user is the owner; the role setting is
-- still the caller's.
CREATE FUNCTION cartera.acting_role() RETURNS name
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT CASE WHEN pg_catalog.current_setting('role') = 'none' THEN session_user
              ELSE pg_catalog.current_setting('role')::name END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.acting_role() FROM PUBLIC;
COMMENT ON FUNCTION cartera.acting_role() IS
  'the role acting in this session (SET ROLE''s, else the session user), also inside SECURITY DEFINER functions: the actor of cartera.alert_event';

CREATE FUNCTION cartera.alert_rows_added() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  INSERT INTO cartera.alert_event (alert_id, customer_id, happened_at, actor, event, to_value)
  SELECT n.alert_id, n.customer_id, n.raised_at, cartera.acting_role(),
         CASE WHEN n.status = 'held_out' THEN 'held_out' ELSE 'raised' END, n.status
    FROM new_rows n
   ORDER BY n.alert_id;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_rows_added() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_rows_added() IS 'statement trigger of cartera.alert: logs each new alert (raised or held out)';

CREATE FUNCTION cartera.alert_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  -- planned on every run (EXECUTE): a plan kept for the session was made
  -- for the size of the first statement's transition tables, and after a
  -- one-row update it joined old_rows and new_rows by nested loop, which
  -- made the daily job's ranking update quadratic in the alerts it touched
  EXECUTE $q$
  INSERT INTO cartera.alert_event (alert_id, customer_id, happened_at, actor, event, from_value, to_value, note)
  SELECT n.alert_id, n.customer_id, clock_timestamp(), cartera.acting_role(), e.event, e.from_value, e.to_value, e.note
    FROM old_rows o JOIN new_rows n ON n.alert_id = o.alert_id
   CROSS JOIN LATERAL (VALUES
     (1, CASE WHEN n.status IS DISTINCT FROM o.status THEN
           CASE n.status WHEN 'acknowledged' THEN 'started' WHEN 'open' THEN 'reopened' ELSE n.status END END,
      o.status, CASE WHEN n.status = 'done' THEN coalesce(n.outcome, 'done')
                     WHEN n.status = 'snoozed' THEN n.snoozed_until::text ELSE n.status END,
      CASE WHEN n.resolution IS DISTINCT FROM o.resolution THEN n.resolution END),
     (2, CASE WHEN n.agent_id IS DISTINCT FROM o.agent_id THEN 'handed_over' END,
      o.agent_id::text, n.agent_id::text,
      CASE WHEN n.status IS NOT DISTINCT FROM o.status AND n.resolution IS DISTINCT FROM o.resolution THEN n.resolution END),
     (3, CASE WHEN n.colour IS DISTINCT FROM o.colour THEN 'recoloured' END, o.colour, n.colour, NULL),
     (4, CASE WHEN n.escalated_at IS NOT NULL AND o.escalated_at IS NULL THEN 'escalated' END,
      NULL, n.escalated_to::text, NULL),
     (5, CASE WHEN n.queue IS DISTINCT FROM o.queue AND n.queue IS NOT NULL THEN
           CASE n.queue WHEN 'queued' THEN 'queued' ELSE 'backlogged' END END,
      o.queue, n.queue, NULL)) e(nth, event, from_value, to_value, note)
   WHERE e.event IS NOT NULL
   ORDER BY n.alert_id, e.nth$q$;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_rows_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_rows_changed() IS
  'statement trigger of cartera.alert: logs each change of status, agent, colour, escalation and queue, with who made it';
CREATE TRIGGER alert_logged AFTER INSERT ON cartera.alert
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartera.alert_rows_added();
CREATE TRIGGER alert_changes_logged AFTER UPDATE ON cartera.alert
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartera.alert_rows_changed();

-- What only cartera itself may do to an alert's status: move one into or
-- out of the holdout group (the comparison of the groups is the point),
-- close one as moot (the daily job's judgement) or reopen a closed one.
-- The maintenance functions run as the tables' owner; agents and managers
-- writing cartera.alert directly are refused.
CREATE FUNCTION cartera.alert_status_guard() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF pg_catalog.pg_has_role(current_user, (SELECT c.relowner FROM pg_catalog.pg_class c
                                           WHERE c.oid = 'cartera.alert'::pg_catalog.regclass), 'USAGE') THEN
    RETURN NEW;
  END IF;
  IF OLD.status = 'held_out' OR NEW.status = 'held_out' THEN
    RAISE EXCEPTION 'alert % cannot move into or out of the holdout group', OLD.alert_id
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Held-out alerts measure what happens without a contact; only the holdout draw assigns them.';
  END IF;
  IF NEW.status = 'moot' THEN
    RAISE EXCEPTION 'only the daily job closes an alert as moot' USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'Dismiss it with a reason: cartera.dismiss_alert(id, reason).';
  END IF;
  RAISE EXCEPTION 'alert % is already %', OLD.alert_id, OLD.status
    USING ERRCODE = 'object_not_in_prerequisite_state',
          HINT = 'Closed alerts stay closed; a new situation raises a new alert.';
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_status_guard() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_status_guard() IS
  'row trigger of cartera.alert: only cartera''s own functions move an alert into or out of the holdout group, close it as moot or reopen a closed one';
CREATE TRIGGER alert_status_guarded BEFORE UPDATE OF status ON cartera.alert
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
        AND (OLD.status IN ('done', 'dismissed', 'moot', 'held_out') OR NEW.status IN ('moot', 'held_out')))
  EXECUTE FUNCTION cartera.alert_status_guard();

-- An alert that leaves the to-do list (closed, snoozed) or changes hands
-- leaves its place in the queue: queue, rank and queued_on are only ever
-- those of an alert still to do, with the agent it was ranked for (the next
-- ranking places a handed-over or reopened one).
CREATE FUNCTION cartera.alert_left_queue() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  NEW.queue := NULL;
  NEW.queue_rank := NULL;
  NEW.queued_on := NULL;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_left_queue() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_left_queue() IS
  'row trigger of cartera.alert: an alert closed, snoozed or handed over leaves its place in the queue (queue, queue_rank, queued_on)';
CREATE TRIGGER alert_left_queue BEFORE UPDATE OF status, agent_id ON cartera.alert
  FOR EACH ROW
  WHEN (OLD.queue IS NOT NULL
        AND (NEW.status NOT IN ('open', 'acknowledged') OR OLD.agent_id IS DISTINCT FROM NEW.agent_id))
  EXECUTE FUNCTION cartera.alert_left_queue();

-- Holdout assignment: a number in [0, 1) from the customer, the kind and
-- the start of the period, the same on every server and every run (md5 is
-- portable; hashtext() is not across architectures).  Held out when it is
-- below the kind's holdout_share.  The period is written out as YYYY-MM-DD
-- from its fields, not cast to text: a date's text follows the session's
-- DateStyle, and a draw must not change with the client's date format.
CREATE FUNCTION cartera.holdout_draw(customer_id bigint, kind text, period date) RETURNS double precision
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT ('x' || substr(md5(customer_id::text || '/' || kind || '/'
                            || lpad(extract(year FROM period)::integer::text, 4, '0') || '-'
                            || lpad(extract(month FROM period)::integer::text, 2, '0') || '-'
                            || lpad(extract(day FROM period)::integer::text, 2, '0')), 1, 13))::bit(52)::bigint
         / 4503599627370496.0::double precision
$fn$;
COMMENT ON FUNCTION cartera.holdout_draw(bigint, text, date) IS
  'the holdout draw of a customer for an alert kind in the period starting on period: uniform in [0, 1), reproducible (md5 of customer/kind/YYYY-MM-DD, whatever the session''s DateStyle); held out when below alert_kind.holdout_share';

-- Newcombe's hybrid score interval for the difference of two proportions
-- (Newcombe 1998, method 10): Wilson intervals of each proportion combined.
-- Unlike the Wald interval it keeps its coverage at 0 %, 100 % and small n.
CREATE FUNCTION cartera.proportion_difference(x1 bigint, n1 bigint, x2 bigint, n2 bigint,
                                              confidence double precision DEFAULT 0.95,
                                              OUT difference double precision, OUT low double precision,
                                              OUT high double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  z double precision;
  p1 double precision;
  p2 double precision;
  l1 double precision; u1 double precision;
  l2 double precision; u2 double precision;
BEGIN
  IF x1 IS NULL OR n1 IS NULL OR x2 IS NULL OR n2 IS NULL OR n1 = 0 OR n2 = 0 THEN
    RETURN;                     -- an empty group: no estimate
  END IF;
  IF x1 < 0 OR x2 < 0 OR x1 > n1 OR x2 > n2 THEN
    RAISE EXCEPTION 'successes must be between 0 and the group size'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s of %s and %s of %s.', x1, n1, x2, n2);
  END IF;
  IF confidence IS NULL OR NOT (confidence > 0 AND confidence < 1) THEN
    RAISE EXCEPTION 'confidence must be between 0 and 1, not %', coalesce(confidence::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  z := cartera.normal_quantile(1 - (1 - confidence) / 2);
  p1 := x1::double precision / n1;
  p2 := x2::double precision / n2;
  l1 := (2 * n1 * p1 + z * z - z * sqrt(z * z + 4 * n1 * p1 * (1 - p1))) / (2 * (n1 + z * z));
  u1 := (2 * n1 * p1 + z * z + z * sqrt(z * z + 4 * n1 * p1 * (1 - p1))) / (2 * (n1 + z * z));
  l2 := (2 * n2 * p2 + z * z - z * sqrt(z * z + 4 * n2 * p2 * (1 - p2))) / (2 * (n2 + z * z));
  u2 := (2 * n2 * p2 + z * z + z * sqrt(z * z + 4 * n2 * p2 * (1 - p2))) / (2 * (n2 + z * z));
  difference := p1 - p2;
  low := difference - sqrt((p1 - l1) ^ 2 + (u2 - p2) ^ 2);
  high := difference + sqrt((u1 - p1) ^ 2 + (p2 - l2) ^ 2);
END
$fn$;
COMMENT ON FUNCTION cartera.proportion_difference(bigint, bigint, bigint, bigint, double precision) IS
  'x1/n1 - x2/n2 with Newcombe''s hybrid score (Wilson) confidence interval (default 95 %); NULL when a group is empty';

-- The standard normal quantile (Acklam's algorithm, relative error < 1.2e-9).
CREATE FUNCTION cartera.normal_quantile(p double precision) RETURNS double precision
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  a double precision[] := ARRAY[-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
  b double precision[] := ARRAY[-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01, -1.328068155288572e+01];
  c double precision[] := ARRAY[-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
  d double precision[] := ARRAY[7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00];
  q double precision;
  r double precision;
  x double precision;
BEGIN
  IF NOT (p > 0 AND p < 1) THEN
    RAISE EXCEPTION 'probability must be between 0 and 1, not %', p USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p < 0.02425 THEN
    q := sqrt(-2 * ln(p));
    x := (((((c[1] * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) * q + c[6])
         / ((((d[1] * q + d[2]) * q + d[3]) * q + d[4]) * q + 1);
  ELSIF p <= 1 - 0.02425 THEN
    q := p - 0.5;
    r := q * q;
    x := (((((a[1] * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * r + a[6]) * q
         / (((((b[1] * r + b[2]) * r + b[3]) * r + b[4]) * r + b[5]) * r + 1);
  ELSE
    q := sqrt(-2 * ln(1 - p));
    x := -(((((c[1] * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) * q + c[6])
          / ((((d[1] * q + d[2]) * q + d[3]) * q + d[4]) * q + 1);
  END IF;
  RETURN x;
END
$fn$;
COMMENT ON FUNCTION cartera.normal_quantile(double precision) IS
  'the standard normal quantile of p (0 < p < 1), Acklam''s approximation (relative error below 1.2e-9)';

-- The day's plan, the last step of the daily job (run_followups); whoever
-- runs the job may run it again after changing capacities.  In order:
--  1. moot: open alerts nobody has started on whose reason is gone (the
--     customer is no longer dormant for a reactivation, the birthday has
--     passed, a welcome is a month late, the month of a goal is over...)
--     close with that reason;
--  2. escalation, of work that was in an agent's queue before this day
--     (queued_on < as_of) and is not done: amber overdue by
--     cartera.escalate_amber_after turns red; red past its due date (an
--     amber turned red: escalate_amber_after later again) goes to the
--     agent's manager (escalated_to).  The backlog is not escalated: it is
--     a capacity problem, which plan_day's and agent_portfolio's backlog
--     counts show the manager, not a fault of the agent;
--  3. ranking: each agent's alerts still to do, in progress first, then by
--     colour, value at stake (predicted 12-month CLV x (1 - P(alive)), the
--     formula CLV before a model is fitted), due date, then customer and
--     kind (cartera.queue_place: no ids, so a coordinator ranking every
--     shard's alerts agrees with one server); the first daily_capacity are
--     queued, the rest is backlog.  Unassigned alerts and those of inactive
--     agents are backlog.
-- plan_day is plan_close_and_escalate (1-2), then plan_queue (3) over
-- plan_candidates; shard_followups runs the same parts on every shard and
-- ranks on the coordinator.
-- Rows an agent is changing right now are skipped (SKIP LOCKED): the job
-- never waits for an agent, and the next run catches them up.
-- Every step joins what it decided back to the rows it locked; the alerts
-- were often just raised in the same transaction, so the statistics say
-- "a few" and a nested loop made those joins quadratic (14,386 alerts: 40 s
-- instead of 1).  Hash joins, whatever the estimates (enable_nestloop off).
-- Where an alert stands in its agent's queue, as one value that sorts: in
-- progress (acknowledged) first, then by colour, value at stake (largest
-- first), due date, customer and kind.  Open alerts of one agent never tie
-- (one open alert per customer and kind, one per agent and kind without a
-- customer), and nothing in it is an id: one server and a coordinator
-- ranking every shard's alerts put them in the same order.
CREATE TYPE cartera.queue_place AS (
  waiting boolean,
  colour_order integer,
  minus_at_stake double precision,
  due_on date,
  customer_id bigint,
  kind text
);
COMMENT ON COLUMN cartera.queue_place.waiting IS 'false when acknowledged (in progress): those come first';
COMMENT ON COLUMN cartera.queue_place.colour_order IS 'red 1, amber 2, green 3, blue 4';
COMMENT ON COLUMN cartera.queue_place.minus_at_stake IS 'minus the value at stake: the largest first';
COMMENT ON COLUMN cartera.queue_place.due_on IS 'the due date: the earliest first';
COMMENT ON COLUMN cartera.queue_place.customer_id IS 'the customer; NULL (an agent''s own alert) sorts last';
COMMENT ON COLUMN cartera.queue_place.kind IS 'the alert kind';
COMMENT ON TYPE cartera.queue_place IS
  'an open alert''s place in its agent''s queue, compared as a row: acknowledged first, then colour (red, amber, green, blue), value at stake (largest first), due date, customer, kind; no ids, so one server and a sharded coordinator rank alike';

CREATE FUNCTION cartera.plan_day(as_of date DEFAULT current_date)
  RETURNS TABLE (agent_id bigint, capacity integer, queued bigint, backlog bigint,
                 escalated bigint, turned_red bigint, moot bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  steps record;
BEGIN
  SELECT * INTO steps FROM cartera.plan_close_and_escalate(as_of);
  RETURN QUERY SELECT * FROM cartera.plan_queue(as_of, NULL, steps.moot, steps.turned_red, steps.escalated);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.plan_day(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.plan_day(date) IS
  'plan a day (the last step of run_followups; may be re-run): close moot alerts, turn long-overdue queued amber red, escalate overdue queued red to the manager, rank each agent''s alerts by colour and value at stake and queue up to the agent''s capacity, the rest as backlog; returns per agent (NULL = unassigned) capacity, queued, backlog, escalated, turned red, moot';

-- Steps 1 and 2 of plan_day: moot alerts closed, queued work escalated;
-- returns the agent of every alert closed, turned red and escalated.
CREATE FUNCTION cartera.plan_close_and_escalate(as_of date, OUT moot bigint[], OUT turned_red bigint[], OUT escalated bigint[])
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
  SET enable_nestloop = off
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  amber_after interval := current_setting('cartera.escalate_amber_after')::interval;
  as_ts timestamptz;
BEGIN
  PERFORM cartera.refuse_while_restoring('plan_day()');
  IF as_of IS NULL OR NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite date, not %', coalesce(as_of::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Omit the argument to plan today (current_date).';
  END IF;
  IF as_of > current_date + 1 THEN
    RAISE EXCEPTION 'as_of % is in the future', as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Today is %s (TimeZone %s).', current_date, current_setting('TimeZone')),
            HINT = 'Omit the argument to plan today (current_date).';
  END IF;
  as_ts := least((as_of + 1)::timestamptz, clock_timestamp());

  -- 1. moot
  WITH reason AS (
    SELECT a.alert_id,
           CASE WHEN cu.forgotten_at IS NOT NULL THEN 'the customer''s data was erased'
                WHEN a.kind = 'reactivation' AND s.status IS DISTINCT FROM 'dormant'
                  THEN format('the customer is %s now', s.status)
                WHEN a.kind = 'exit_survey' AND cu.lost_reason IS NOT NULL THEN 'the reason for leaving is known'
                WHEN a.kind = 'exit_survey' AND s.status IS DISTINCT FROM 'lost'
                  THEN format('the customer is %s now', s.status)
                WHEN a.kind IN ('cant_lose', 'champion_at_risk') AND s.status IN ('new', 'active', 'reactivated', 'lost')
                  THEN format('the customer is %s now', s.status)
                WHEN a.kind = 'idle_lead' AND s.status IS DISTINCT FROM 'lead'
                  THEN format('the customer is %s now', s.status)
                WHEN a.kind IN ('birthday', 'occasion') AND a.due_on < as_of THEN 'the date has passed'
                WHEN a.kind = 'cross_sell' AND a.due_on < as_of - 30 THEN 'the offer is more than 30 days old'
                WHEN a.kind IN ('welcome', 'welcome_back') AND a.due_on < as_of - 30
                  THEN 'more than 30 days late for a welcome'
                WHEN a.kind = 'below_target' AND a.due_on < date_trunc('month', as_of)::date
                  THEN 'the month of the goal is over'
           END AS why
      FROM cartera.alert a
      LEFT JOIN cartera.customer cu ON cu.customer_id = a.customer_id
      LEFT JOIN cartera.customer_state s ON s.customer_id = a.customer_id
     WHERE a.status = 'open'),
  locked AS (
    SELECT a.alert_id FROM cartera.alert a
     WHERE a.alert_id IN (SELECT r.alert_id FROM reason r WHERE r.why IS NOT NULL)
       FOR UPDATE SKIP LOCKED),
  closed AS (
    UPDATE cartera.alert a SET status = 'moot', closed_at = as_ts, resolution = r.why
      FROM reason r JOIN locked l ON l.alert_id = r.alert_id
     WHERE a.alert_id = r.alert_id AND a.status = 'open'
    RETURNING a.agent_id)
  SELECT array_agg(c.agent_id) INTO moot FROM closed c;

  -- 2. escalation of queued work: amber long overdue turns red, then red
  -- past due goes up
  WITH locked AS (
    SELECT a.alert_id FROM cartera.alert a
     WHERE a.status IN ('open', 'acknowledged') AND a.queue = 'queued' AND a.queued_on < as_of
       AND a.colour = 'amber' AND a.due_on + amber_after < as_of
       FOR UPDATE SKIP LOCKED),
  changed AS (
    UPDATE cartera.alert a SET colour = 'red' FROM locked l WHERE a.alert_id = l.alert_id
    RETURNING a.agent_id)
  SELECT array_agg(c.agent_id) INTO turned_red FROM changed c;
  WITH locked AS (
    SELECT a.alert_id FROM cartera.alert a JOIN cartera.alert_kind k ON k.kind = a.kind
     WHERE a.status IN ('open', 'acknowledged') AND a.queue = 'queued' AND a.queued_on < as_of
       AND a.colour = 'red' AND a.escalated_at IS NULL
       AND a.due_on + CASE WHEN k.colour = 'red' THEN interval '0' ELSE 2 * amber_after END < as_of
       FOR UPDATE OF a SKIP LOCKED),
  changed AS (
    UPDATE cartera.alert a
       SET escalated_at = as_ts,
           escalated_to = (SELECT g.manager_id FROM cartera.agent g WHERE g.agent_id = a.agent_id)
      FROM locked l WHERE a.alert_id = l.alert_id
    RETURNING a.agent_id)
  SELECT array_agg(c.agent_id) INTO escalated FROM changed c;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.plan_close_and_escalate(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.plan_close_and_escalate(date) IS
  'part of plan_day (and of shard_followups on every shard): closes moot alerts, turns long-overdue queued amber red, escalates overdue queued red to the manager; returns the agents of the alerts mooted, turned red and escalated';

-- The alerts step 3 ranks: every open or acknowledged alert with its agent,
-- its place and value at stake, and the agent's capacity today.
CREATE FUNCTION cartera.plan_candidates()
  RETURNS TABLE (alert_id bigint, agent_id bigint, place cartera.queue_place, value numeric, capacity integer)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  default_capacity integer := current_setting('cartera.daily_capacity')::integer;
BEGIN
  RETURN QUERY
  SELECT a.alert_id, a.agent_id,
         ROW(a.status <> 'acknowledged', array_position(ARRAY['red', 'amber', 'green', 'blue'], a.colour),
             -v.at_stake, a.due_on, a.customer_id, a.kind)::cartera.queue_place,
         round(v.at_stake::numeric, 2),
         CASE WHEN g.active THEN coalesce(g.daily_capacity, default_capacity) ELSE 0 END
    FROM cartera.alert a
    LEFT JOIN cartera.customer_state s ON s.customer_id = a.customer_id
    LEFT JOIN cartera.agent g ON g.agent_id = a.agent_id
   CROSS JOIN LATERAL (SELECT CASE WHEN a.customer_id IS NULL THEN 0
                                   ELSE coalesce(s.clv_predicted_12m * (1 - s.p_alive), s.clv, 0) END AS at_stake) v
   WHERE a.status IN ('open', 'acknowledged');
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.plan_candidates() FROM PUBLIC;
COMMENT ON FUNCTION cartera.plan_candidates() IS
  'part of plan_day (and of shard_followups on every shard): every open or acknowledged alert with its agent, its place in the queue (cartera.queue_place), its value at stake and the agent''s capacity today';

-- Step 3 of plan_day: each alert's rank in its agent's queue (ranks: alert
-- id -> rank, given by a coordinator that ranked every shard's alerts;
-- NULL: ranked here), the first `capacity` queued, the rest backlog; only
-- rows whose place changed are written.  Returns the day's figures per agent
-- with the agents of steps 1-2 counted.
CREATE FUNCTION cartera.plan_queue(as_of date, ranks jsonb, mooted bigint[], reddened bigint[], raised_up bigint[])
  RETURNS TABLE (agent_id bigint, capacity integer, queued bigint, backlog bigint,
                 escalated bigint, turned_red bigint, moot bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
  SET enable_nestloop = off
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  default_capacity integer := current_setting('cartera.daily_capacity')::integer;
BEGIN
  WITH candidate AS (
    SELECT c.* FROM cartera.plan_candidates() c),
  ranked AS (
    SELECT c.alert_id, c.value, c.capacity,
           row_number() OVER (PARTITION BY c.agent_id ORDER BY c.place) AS rnk
      FROM candidate c WHERE ranks IS NULL
    UNION ALL
    SELECT c.alert_id, c.value, c.capacity, r.value::bigint
      FROM candidate c JOIN jsonb_each_text(ranks) r ON r.key::bigint = c.alert_id
     WHERE ranks IS NOT NULL),
  placed AS (
    SELECT r.*, CASE WHEN r.rnk <= r.capacity THEN 'queued' ELSE 'backlog' END AS new_queue
      FROM ranked r),
  decided AS (  -- only the alerts whose place changes are written
    SELECT p.* FROM placed p JOIN cartera.alert a ON a.alert_id = p.alert_id
     WHERE (p.new_queue, p.rnk, p.value) IS DISTINCT FROM (a.queue, a.queue_rank, a.value_at_stake)),
  locked AS (
    SELECT a.alert_id FROM cartera.alert a
     WHERE a.alert_id IN (SELECT d.alert_id FROM decided d)
       FOR UPDATE SKIP LOCKED)
  UPDATE cartera.alert a
     SET queue = d.new_queue, queue_rank = d.rnk, value_at_stake = d.value,
         queued_on = CASE WHEN d.new_queue <> 'queued' THEN NULL
                          WHEN a.queue = 'queued' THEN coalesce(a.queued_on, as_of) ELSE as_of END
    FROM decided d JOIN locked l ON l.alert_id = d.alert_id
   WHERE a.alert_id = d.alert_id AND a.status IN ('open', 'acknowledged');

  RETURN QUERY
  WITH per_agent AS (
    SELECT a.agent_id, count(*) FILTER (WHERE a.queue = 'queued') AS queued,
           count(*) FILTER (WHERE a.queue IS DISTINCT FROM 'queued') AS backlog
      FROM cartera.alert a WHERE a.status IN ('open', 'acknowledged')
     GROUP BY a.agent_id),
  counted AS (
    SELECT x.agent_id, count(*) FILTER (WHERE x.what = 1) AS n_moot,
           count(*) FILTER (WHERE x.what = 2) AS n_turned_red, count(*) FILTER (WHERE x.what = 3) AS n_escalated
      FROM (SELECT unnest(mooted) AS agent_id, 1 AS what
            UNION ALL SELECT unnest(reddened), 2
            UNION ALL SELECT unnest(raised_up), 3) x
     GROUP BY x.agent_id),
  agents AS (
    SELECT g.agent_id FROM cartera.agent g
    UNION SELECT p.agent_id FROM per_agent p
    UNION SELECT c.agent_id FROM counted c)
  SELECT ag.agent_id,
         CASE WHEN g.active THEN coalesce(g.daily_capacity, default_capacity) ELSE 0 END,
         coalesce(p.queued, 0), coalesce(p.backlog, 0),
         coalesce(c.n_escalated, 0), coalesce(c.n_turned_red, 0), coalesce(c.n_moot, 0)
    FROM agents ag
    LEFT JOIN cartera.agent g ON g.agent_id = ag.agent_id
    LEFT JOIN per_agent p ON p.agent_id IS NOT DISTINCT FROM ag.agent_id
    LEFT JOIN counted c ON c.agent_id IS NOT DISTINCT FROM ag.agent_id
   ORDER BY ag.agent_id NULLS LAST;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.plan_queue(date, jsonb, bigint[], bigint[], bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION cartera.plan_queue(date, jsonb, bigint[], bigint[], bigint[]) IS
  'part of plan_day (and of shard_followups on every shard): ranks each agent''s open alerts by their queue_place (or takes the ranks a coordinator computed over every shard: alert id -> rank), queues up to the agent''s capacity, the rest as backlog; returns the day''s figures per agent, counting the agents plan_close_and_escalate returned';

------------------------------------------------------------------------------
-- Outcomes and uplift.  An alert's outcome is what the customer did within
-- its kind's response window after it was raised: sales in cartera.purchase
-- (the purchases of tracked tables are not itemised there), their revenue,
-- and the last status change.  Held-out alerts are measured the same way,
-- so the two groups compare.  Views run as the caller: an agent sees the
-- outcomes of the alerts (and purchases) row-level security shows them.
------------------------------------------------------------------------------
CREATE VIEW cartera.alert_outcome WITH (security_invoker = true) AS
SELECT a.alert_id,
       a.kind,
       a.agent_id,
       a.customer_id,
       a.raised_at,
       date_trunc('month', a.raised_at)::date AS month,
       CASE WHEN a.status = 'held_out' THEN 'held_out' ELSE 'alerted' END AS arm,
       a.status,
       a.outcome,
       f.first_action_at,
       a.raised_at + k.response_window AS window_ends,
       a.raised_at + k.response_window <= now() AS window_closed,
       coalesce(p.sales, 0) AS sales,
       coalesce(p.revenue, 0) AS revenue,
       p.first_sale_at,
       coalesce(p.sales, 0) > 0 AS converted,
       t.to_status AS status_after
  FROM cartera.alert a
  JOIN cartera.alert_kind k ON k.kind = a.kind
  LEFT JOIN LATERAL (
    SELECT min(e.happened_at) AS first_action_at FROM cartera.alert_event e
     WHERE e.alert_id = a.alert_id AND e.event IN ('started', 'snoozed', 'handed_over', 'done', 'dismissed')) f ON true
  LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.kind = 'sale') AS sales, sum(x.amount) AS revenue,
           min(x.purchased_at) FILTER (WHERE x.kind = 'sale') AS first_sale_at
      FROM cartera.purchase x
     WHERE x.customer_id = a.customer_id AND x.purchased_at > a.raised_at
       AND x.purchased_at <= a.raised_at + k.response_window) p ON true
  LEFT JOIN LATERAL (
    SELECT st.to_status FROM cartera.status_transition st
     WHERE st.customer_id = a.customer_id AND st.changed_at > a.raised_at
       AND st.changed_at <= a.raised_at + k.response_window AND st.to_status IS DISTINCT FROM st.from_status
     ORDER BY st.changed_at DESC, st.transition_id DESC LIMIT 1) t ON true
 WHERE a.customer_id IS NOT NULL;
COMMENT ON VIEW cartera.alert_outcome IS
  'one row per alert about a customer, alerted or held out: what the customer did within the kind''s response window (sales and revenue in cartera.purchase, the last status change) and when an agent first acted';
COMMENT ON COLUMN cartera.alert_outcome.alert_id IS 'the alert';
COMMENT ON COLUMN cartera.alert_outcome.kind IS 'alert kind';
COMMENT ON COLUMN cartera.alert_outcome.agent_id IS 'agent the alert is with';
COMMENT ON COLUMN cartera.alert_outcome.customer_id IS 'the customer';
COMMENT ON COLUMN cartera.alert_outcome.raised_at IS 'when the alert was raised (or held out)';
COMMENT ON COLUMN cartera.alert_outcome.month IS 'first day of the month it was raised in';
COMMENT ON COLUMN cartera.alert_outcome.arm IS 'alerted, or held_out (the holdout group: not contacted)';
COMMENT ON COLUMN cartera.alert_outcome.status IS 'the alert''s status now';
COMMENT ON COLUMN cartera.alert_outcome.outcome IS 'the outcome the agent recorded (done alerts)';
COMMENT ON COLUMN cartera.alert_outcome.first_action_at IS 'when an agent first acted on it (started, snoozed, handed over, done, dismissed)';
COMMENT ON COLUMN cartera.alert_outcome.window_ends IS 'raised_at + the kind''s response_window';
COMMENT ON COLUMN cartera.alert_outcome.window_closed IS 'the response window is over (outcomes of open windows can still change)';
COMMENT ON COLUMN cartera.alert_outcome.sales IS 'sales of the customer within the response window';
COMMENT ON COLUMN cartera.alert_outcome.revenue IS 'net amount (sales less refunds) within the response window';
COMMENT ON COLUMN cartera.alert_outcome.first_sale_at IS 'first sale within the response window';
COMMENT ON COLUMN cartera.alert_outcome.converted IS 'the customer bought within the response window';
COMMENT ON COLUMN cartera.alert_outcome.status_after IS 'the customer''s life-cycle status after the last change within the window (NULL: no change)';

-- What the team did with its alerts, per kind, agent and month.
CREATE VIEW cartera.followup_performance WITH (security_invoker = true) AS
SELECT o.kind,
       o.agent_id,
       o.month,
       count(*) AS raised,
       count(o.first_action_at) AS worked,
       count(*) FILTER (WHERE o.status = 'done') AS done,
       count(*) FILTER (WHERE o.outcome = 'won_back') AS won_back_reported,
       count(*) FILTER (WHERE o.status = 'moot') AS moot,
       count(*) FILTER (WHERE o.converted) AS converted,
       round(avg(o.converted::int), 4) AS conversion_rate,
       sum(o.revenue) AS revenue_after,
       make_interval(secs => percentile_cont(0.5) WITHIN GROUP (
                              ORDER BY extract(epoch FROM o.first_action_at - o.raised_at))) AS median_time_to_action,
       -- the same as a number, for BI tools (JDBC has no interval type)
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.first_action_at - o.raised_at)) AS median_time_to_action_seconds
  FROM cartera.alert_outcome o
 WHERE o.arm = 'alerted'
 GROUP BY o.kind, o.agent_id, o.month;
COMMENT ON VIEW cartera.followup_performance IS
  'per alert kind, agent and month (alerted customers only): alerts raised, worked, done, moot, converted (a purchase within the response window), revenue after the alert, median time to the first action';
COMMENT ON COLUMN cartera.followup_performance.kind IS 'alert kind';
COMMENT ON COLUMN cartera.followup_performance.agent_id IS 'agent the alerts are with (NULL: unassigned)';
COMMENT ON COLUMN cartera.followup_performance.month IS 'first day of the month the alerts were raised in';
COMMENT ON COLUMN cartera.followup_performance.raised IS 'alerts raised (not held out)';
COMMENT ON COLUMN cartera.followup_performance.worked IS 'alerts an agent acted on';
COMMENT ON COLUMN cartera.followup_performance.done IS 'alerts done';
COMMENT ON COLUMN cartera.followup_performance.won_back_reported IS 'alerts done with outcome won_back';
COMMENT ON COLUMN cartera.followup_performance.moot IS 'alerts closed as moot before anyone worked them';
COMMENT ON COLUMN cartera.followup_performance.converted IS 'alerts followed by a purchase within the response window';
COMMENT ON COLUMN cartera.followup_performance.conversion_rate IS 'converted / raised';
COMMENT ON COLUMN cartera.followup_performance.revenue_after IS 'net revenue within the response windows';
COMMENT ON COLUMN cartera.followup_performance.median_time_to_action IS 'median time from raising to the first action';
COMMENT ON COLUMN cartera.followup_performance.median_time_to_action_seconds IS 'median_time_to_action in seconds (a number for BI tools)';

-- Did the alerts raise retention?  Alerted vs held out, per kind and month,
-- and per kind over every month (month NULL).
CREATE VIEW cartera.followup_uplift WITH (security_invoker = true) AS
WITH arms AS (
  SELECT o.kind, o.month,
         count(*) FILTER (WHERE o.arm = 'alerted') AS n1,
         count(*) FILTER (WHERE o.arm = 'alerted' AND o.converted) AS x1,
         avg(o.revenue) FILTER (WHERE o.arm = 'alerted') AS r1,
         var_samp(o.revenue) FILTER (WHERE o.arm = 'alerted') AS v1,
         count(*) FILTER (WHERE o.arm = 'held_out') AS n2,
         count(*) FILTER (WHERE o.arm = 'held_out' AND o.converted) AS x2,
         avg(o.revenue) FILTER (WHERE o.arm = 'held_out') AS r2,
         var_samp(o.revenue) FILTER (WHERE o.arm = 'held_out') AS v2,
         count(*) FILTER (WHERE NOT o.window_closed) AS windows_open
    FROM cartera.alert_outcome o
   GROUP BY GROUPING SETS ((o.kind, o.month), (o.kind)))
SELECT a.kind,
       a.month,
       a.n1 AS alerted,
       a.n2 AS held_out,
       a.windows_open,
       round((a.x1::numeric / nullif(a.n1, 0)), 4) AS conversion_alerted,
       round((a.x2::numeric / nullif(a.n2, 0)), 4) AS conversion_held_out,
       round(d.difference::numeric, 4) AS uplift,
       round(d.low::numeric, 4) AS uplift_low,
       round(d.high::numeric, 4) AS uplift_high,
       round(a.r1, 2) AS revenue_per_alerted,
       round(a.r2, 2) AS revenue_per_held_out,
       round(a.r1 - a.r2, 2) AS revenue_uplift,
       round(a.r1 - a.r2 - 1.959964 * sqrt(a.v1 / a.n1 + a.v2 / a.n2), 2) AS revenue_uplift_low,
       round(a.r1 - a.r2 + 1.959964 * sqrt(a.v1 / a.n1 + a.v2 / a.n2), 2) AS revenue_uplift_high,
       CASE WHEN d.difference > 0 THEN round((1 / d.difference)::numeric, 1) END AS alerts_per_win
  FROM arms a
  LEFT JOIN LATERAL cartera.proportion_difference(a.x1, a.n1, a.x2, a.n2) d ON true;
COMMENT ON VIEW cartera.followup_uplift IS
  'per alert kind and month (month NULL: every month): conversion and revenue per customer of alerted vs held-out customers, the difference with a 95 % confidence interval, and how many alerts win one customer back';
COMMENT ON COLUMN cartera.followup_uplift.kind IS 'alert kind';
COMMENT ON COLUMN cartera.followup_uplift.month IS 'first day of the month raised in; NULL = all months together';
COMMENT ON COLUMN cartera.followup_uplift.alerted IS 'alerts raised (the treated group)';
COMMENT ON COLUMN cartera.followup_uplift.held_out IS 'alerts held out (the control group)';
COMMENT ON COLUMN cartera.followup_uplift.windows_open IS 'alerts whose response window is not over yet (their outcome can still change)';
COMMENT ON COLUMN cartera.followup_uplift.conversion_alerted IS 'share of alerted customers who bought within the response window';
COMMENT ON COLUMN cartera.followup_uplift.conversion_held_out IS 'share of held-out customers who bought within the response window';
COMMENT ON COLUMN cartera.followup_uplift.uplift IS 'conversion_alerted - conversion_held_out';
COMMENT ON COLUMN cartera.followup_uplift.uplift_low IS 'lower end of the 95 % confidence interval of the uplift (Newcombe''s hybrid score interval)';
COMMENT ON COLUMN cartera.followup_uplift.uplift_high IS 'upper end of the 95 % confidence interval of the uplift';
COMMENT ON COLUMN cartera.followup_uplift.revenue_per_alerted IS 'mean net revenue within the window per alerted customer';
COMMENT ON COLUMN cartera.followup_uplift.revenue_per_held_out IS 'mean net revenue within the window per held-out customer';
COMMENT ON COLUMN cartera.followup_uplift.revenue_uplift IS 'revenue_per_alerted - revenue_per_held_out';
COMMENT ON COLUMN cartera.followup_uplift.revenue_uplift_low IS 'lower end of its 95 % confidence interval (normal, unequal variances)';
COMMENT ON COLUMN cartera.followup_uplift.revenue_uplift_high IS 'upper end of its 95 % confidence interval';
COMMENT ON COLUMN cartera.followup_uplift.alerts_per_win IS '1 / uplift: alerts it takes to win one more customer back (when the uplift is positive)';

-- The manager's queue: red alerts past their due date, escalated.
CREATE VIEW cartera.manager_queue WITH (security_invoker = true) AS
SELECT al.alert_id,
       al.kind,
       al.escalated_at,
       al.escalated_to,
       m.name AS escalated_to_name,
       al.agent_id,
       a.name AS agent_name,
       al.customer_id,
       c.full_name AS customer_name,
       al.status,
       al.raised_at,
       al.due_on,
       al.value_at_stake,
       al.message
  FROM cartera.alert al
  LEFT JOIN cartera.agent a ON a.agent_id = al.agent_id
  LEFT JOIN cartera.agent m ON m.agent_id = al.escalated_to
  LEFT JOIN cartera.customer c ON c.customer_id = al.customer_id
 WHERE al.escalated_at IS NOT NULL AND al.status IN ('open', 'acknowledged')
 ORDER BY al.escalated_at, al.value_at_stake DESC NULLS LAST, al.alert_id;
COMMENT ON VIEW cartera.manager_queue IS
  'escalated alerts still to do (red and past their due date), oldest escalation first: what a manager must see to';
COMMENT ON COLUMN cartera.manager_queue.alert_id IS 'the alert';
COMMENT ON COLUMN cartera.manager_queue.kind IS 'alert kind';
COMMENT ON COLUMN cartera.manager_queue.escalated_at IS 'when it was escalated';
COMMENT ON COLUMN cartera.manager_queue.escalated_to IS 'the manager''s agent id (NULL: the agent has no manager_id)';
COMMENT ON COLUMN cartera.manager_queue.escalated_to_name IS 'the manager''s name';
COMMENT ON COLUMN cartera.manager_queue.agent_id IS 'agent the alert is with';
COMMENT ON COLUMN cartera.manager_queue.agent_name IS 'name of the agent';
COMMENT ON COLUMN cartera.manager_queue.customer_id IS 'the customer';
COMMENT ON COLUMN cartera.manager_queue.customer_name IS 'customer name';
COMMENT ON COLUMN cartera.manager_queue.status IS 'open or acknowledged (in progress)';
COMMENT ON COLUMN cartera.manager_queue.raised_at IS 'when it was raised';
COMMENT ON COLUMN cartera.manager_queue.due_on IS 'the date it was due';
COMMENT ON COLUMN cartera.manager_queue.value_at_stake IS 'value at stake at the last ranking';
COMMENT ON COLUMN cartera.manager_queue.message IS 'what to do';
-- END followups

-- twin of sql/cartera_security.sql: an alert still to do is seen by the
-- agent it is with too (hand-overs); its history by whoever sees it
DROP POLICY agent_own ON cartera.alert;
CREATE POLICY agent_own ON cartera.alert
  USING ((agent_id = (SELECT cartera.current_agent_id())
          AND (customer_id IS NULL OR status IN ('open', 'acknowledged', 'snoozed')))
         OR customer_id IN (SELECT c.customer_id FROM cartera.customer c
                             WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())))
  WITH CHECK (agent_id = (SELECT cartera.current_agent_id())
              OR customer_id IN (SELECT c.customer_id FROM cartera.customer c
                                  WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
COMMENT ON POLICY agent_own ON cartera.alert IS 'an agent sees and acts on the alerts about the customers they own, alerts about themselves, and alerts still to do handed over to them';
ALTER TABLE cartera.alert_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY manager_all ON cartera.alert_event
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY agent_own ON cartera.alert_event FOR SELECT
  USING (alert_id IN (SELECT a.alert_id FROM cartera.alert a));
COMMENT ON POLICY manager_all ON cartera.alert_event IS 'managers (cartera.is_manager()) see the history of every alert';
COMMENT ON POLICY agent_own ON cartera.alert_event IS 'an agent sees the history of the alerts they see';


-- twin of sql/cartera_security.sql: the deferred queue under row-level security
ALTER TABLE cartera.deferred_change ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.deferred_failure ENABLE ROW LEVEL SECURITY;
CREATE POLICY manager_all ON cartera.deferred_change FOR SELECT USING ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.deferred_failure FOR SELECT USING ((SELECT cartera.is_manager()));
CREATE POLICY agent_own ON cartera.deferred_change FOR SELECT
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
CREATE POLICY agent_own ON cartera.deferred_failure FOR SELECT
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
COMMENT ON POLICY manager_all ON cartera.deferred_change IS 'managers (cartera.is_manager()) see the whole deferred queue';
COMMENT ON POLICY manager_all ON cartera.deferred_failure IS 'managers (cartera.is_manager()) see every set-aside customer';
COMMENT ON POLICY agent_own ON cartera.deferred_change IS 'an agent sees the queued changes of the customers they own';
COMMENT ON POLICY agent_own ON cartera.deferred_failure IS 'an agent sees which of the customers they own are set aside';

-- twins of sql/cartera_views.sql: the views that gained columns (at the end)
-- BEGIN views
CREATE OR REPLACE VIEW cartera.agent_portfolio WITH (security_invoker = true) AS
WITH owners AS (
  SELECT a.agent_id, a.name, a.active, a.daily_capacity FROM cartera.agent a
  UNION ALL
  SELECT NULL, NULL, NULL, NULL),
per_owner AS (
  SELECT c.owner_agent_id AS agent_id, count(*) AS customers,
         count(*) FILTER (WHERE s.status = 'lead') AS lead_count,
         count(*) FILTER (WHERE s.status = 'new') AS new_count,
         count(*) FILTER (WHERE s.status = 'active') AS active_count,
         count(*) FILTER (WHERE s.status = 'reactivated') AS reactivated_count,
         count(*) FILTER (WHERE s.status = 'at_risk') AS at_risk_count,
         count(*) FILTER (WHERE s.status = 'dormant') AS dormant_count,
         count(*) FILTER (WHERE s.status = 'lost') AS lost_count,
         sum((s.summary).monetary_total) AS revenue,
         sum(s.clv) AS clv,
         sum(s.clv_predicted_12m) AS clv_predicted_12m
    FROM cartera.customer c
    LEFT JOIN cartera.customer_state s ON s.customer_id = c.customer_id
   GROUP BY c.owner_agent_id),
per_agent_alerts AS (
  SELECT al.agent_id, count(*) AS open_alerts,
         count(*) FILTER (WHERE al.colour = 'red') AS red_alerts,
         count(*) FILTER (WHERE al.colour = 'amber') AS amber_alerts,
         count(*) FILTER (WHERE al.colour = 'green') AS green_alerts,
         count(*) FILTER (WHERE al.colour = 'blue') AS blue_alerts,
         count(*) FILTER (WHERE al.due_on < current_date) AS overdue_alerts,
         count(*) FILTER (WHERE al.queue = 'queued') AS queued_alerts,
         count(*) FILTER (WHERE al.queue IS DISTINCT FROM 'queued') AS backlog_alerts,
         count(*) FILTER (WHERE al.escalated_at IS NOT NULL) AS escalated_alerts
    FROM cartera.alert al
   WHERE al.status IN ('open', 'acknowledged')
   GROUP BY al.agent_id)
SELECT o.agent_id,
       o.name AS agent_name,
       o.active AS agent_active,
       coalesce(p.customers, 0) AS customers,
       coalesce(p.lead_count, 0) AS lead_count,
       coalesce(p.new_count, 0) AS new_count,
       coalesce(p.active_count, 0) AS active_count,
       coalesce(p.reactivated_count, 0) AS reactivated_count,
       coalesce(p.at_risk_count, 0) AS at_risk_count,
       coalesce(p.dormant_count, 0) AS dormant_count,
       coalesce(p.lost_count, 0) AS lost_count,
       coalesce(p.revenue, 0) AS revenue,
       p.clv,
       p.clv_predicted_12m,
       coalesce(x.open_alerts, 0) AS open_alerts,
       coalesce(x.red_alerts, 0) AS red_alerts,
       coalesce(x.amber_alerts, 0) AS amber_alerts,
       coalesce(x.green_alerts, 0) AS green_alerts,
       coalesce(x.blue_alerts, 0) AS blue_alerts,
       coalesce(x.overdue_alerts, 0) AS overdue_alerts,
       CASE WHEN o.active THEN coalesce(o.daily_capacity, cartera.portfolio_setting_value('cartera.daily_capacity')::integer)
            ELSE 0 END AS daily_capacity,
       coalesce(x.queued_alerts, 0) AS queued_alerts,
       coalesce(x.backlog_alerts, 0) AS backlog_alerts,
       coalesce(x.escalated_alerts, 0) AS escalated_alerts
  FROM owners o
  LEFT JOIN per_owner p ON p.agent_id IS NOT DISTINCT FROM o.agent_id
  LEFT JOIN per_agent_alerts x ON x.agent_id IS NOT DISTINCT FROM o.agent_id
 WHERE o.agent_id IS NOT NULL OR p.customers > 0 OR x.open_alerts > 0;
COMMENT ON VIEW cartera.agent_portfolio IS
  'per agent: customers by life-cycle status, revenue, CLV and the open alerts they must act on, by colour; a row with a NULL agent counts unassigned customers and alerts';
COMMENT ON COLUMN cartera.agent_portfolio.agent_id IS 'agent id; NULL: customers without an owner';
COMMENT ON COLUMN cartera.agent_portfolio.agent_name IS 'agent name';
COMMENT ON COLUMN cartera.agent_portfolio.agent_active IS 'whether the agent is active';
COMMENT ON COLUMN cartera.agent_portfolio.customers IS 'customers the agent owns';
COMMENT ON COLUMN cartera.agent_portfolio.lead_count IS 'owned customers with status lead (no purchase yet)';
COMMENT ON COLUMN cartera.agent_portfolio.new_count IS 'owned customers with status new';
COMMENT ON COLUMN cartera.agent_portfolio.active_count IS 'owned customers with status active';
COMMENT ON COLUMN cartera.agent_portfolio.reactivated_count IS 'owned customers with status reactivated';
COMMENT ON COLUMN cartera.agent_portfolio.at_risk_count IS 'owned customers with status at_risk';
COMMENT ON COLUMN cartera.agent_portfolio.dormant_count IS 'owned customers with status dormant';
COMMENT ON COLUMN cartera.agent_portfolio.lost_count IS 'owned customers with status lost';
COMMENT ON COLUMN cartera.agent_portfolio.revenue IS 'net revenue of the owned customers (sum of monetary_total)';
COMMENT ON COLUMN cartera.agent_portfolio.clv IS 'sum of the seed-formula CLV of the owned customers';
COMMENT ON COLUMN cartera.agent_portfolio.clv_predicted_12m IS 'sum of the predicted 12-month values of the owned customers';
COMMENT ON COLUMN cartera.agent_portfolio.open_alerts IS 'alerts assigned to the agent still to do (open or acknowledged)';
COMMENT ON COLUMN cartera.agent_portfolio.red_alerts IS 'open red alerts (act now)';
COMMENT ON COLUMN cartera.agent_portfolio.amber_alerts IS 'open amber alerts (follow up soon)';
COMMENT ON COLUMN cartera.agent_portfolio.green_alerts IS 'open green alerts (opportunities)';
COMMENT ON COLUMN cartera.agent_portfolio.blue_alerts IS 'open blue alerts (for the agent: targets)';
COMMENT ON COLUMN cartera.agent_portfolio.overdue_alerts IS 'open alerts past their due date';
COMMENT ON COLUMN cartera.agent_portfolio.daily_capacity IS 'alerts the agent can work in a day (agent.daily_capacity, else the portfolio setting; 0 for inactive agents and unassigned alerts)';
COMMENT ON COLUMN cartera.agent_portfolio.queued_alerts IS 'alerts in the day''s queue (at most daily_capacity after the daily job, plus complaints raised since)';
COMMENT ON COLUMN cartera.agent_portfolio.backlog_alerts IS 'alerts still to do beyond the day''s queue (waiting; re-ranked every day)';
COMMENT ON COLUMN cartera.agent_portfolio.escalated_alerts IS 'alerts still to do that were escalated to the manager';
CREATE OR REPLACE VIEW cartera.alert_queue WITH (security_invoker = true) AS
SELECT al.alert_id,
       al.kind,
       al.colour,
       array_position(ARRAY['red', 'amber', 'green', 'blue'], al.colour) AS severity,
       al.status,
       al.customer_id,
       c.full_name AS customer_name,
       al.agent_id,
       a.name AS agent_name,
       al.raised_at,
       al.due_on,
       greatest(current_date - al.due_on, 0) AS days_overdue,
       al.message,
       al.detail,
       al.queue,
       al.queue_rank,
       al.value_at_stake,
       al.escalated_at,
       al.escalated_to
  FROM cartera.alert al
  LEFT JOIN cartera.customer c ON c.customer_id = al.customer_id
  LEFT JOIN cartera.agent a ON a.agent_id = al.agent_id
 WHERE al.status IN ('open', 'acknowledged')
 ORDER BY al.queue = 'backlog', severity, al.value_at_stake DESC NULLS LAST, al.due_on, al.alert_id;
COMMENT ON VIEW cartera.alert_queue IS
  'alerts still to do (open or acknowledged): the day''s queue first, then the backlog, each by colour (red, amber, green, blue), value at stake and due date';
COMMENT ON COLUMN cartera.alert_queue.alert_id IS 'alert id (act on it with cartera.acknowledge_alert, complete_alert, snooze_alert, dismiss_alert)';
COMMENT ON COLUMN cartera.alert_queue.kind IS 'alert kind (cartera.alert_kind)';
COMMENT ON COLUMN cartera.alert_queue.colour IS 'red = act now, amber = follow up soon, green = opportunity, blue = for the agent';
COMMENT ON COLUMN cartera.alert_queue.severity IS 'colour as a sort key: 1 red, 2 amber, 3 green, 4 blue';
COMMENT ON COLUMN cartera.alert_queue.status IS 'open or acknowledged';
COMMENT ON COLUMN cartera.alert_queue.customer_id IS 'customer concerned; NULL for alerts about the agent';
COMMENT ON COLUMN cartera.alert_queue.customer_name IS 'customer name';
COMMENT ON COLUMN cartera.alert_queue.agent_id IS 'agent who must act';
COMMENT ON COLUMN cartera.alert_queue.agent_name IS 'name of the agent who must act';
COMMENT ON COLUMN cartera.alert_queue.raised_at IS 'when the alert was raised';
COMMENT ON COLUMN cartera.alert_queue.due_on IS 'date by which to act';
COMMENT ON COLUMN cartera.alert_queue.days_overdue IS 'days past due_on (current_date - due_on); 0 when not yet due';
COMMENT ON COLUMN cartera.alert_queue.message IS 'what to do, in the language the alert was raised in';
COMMENT ON COLUMN cartera.alert_queue.detail IS 'details (amounts, dates, offers)';
COMMENT ON COLUMN cartera.alert_queue.queue IS 'queued (today''s work, up to the agent''s capacity) or backlog; NULL until the daily job ranks it';
COMMENT ON COLUMN cartera.alert_queue.queue_rank IS 'position in the agent''s list at the last ranking (1 = first)';
COMMENT ON COLUMN cartera.alert_queue.value_at_stake IS 'predicted 12-month CLV x (1 - P(alive)) at the last ranking (formula CLV before a model is fitted)';
COMMENT ON COLUMN cartera.alert_queue.escalated_at IS 'when it was escalated to the manager (red and overdue)';
COMMENT ON COLUMN cartera.alert_queue.escalated_to IS 'the manager it was escalated to (agent id)';
-- END views

------------------------------------------------------------------------------
-- 2. Functions new or changed in 0.4.0 (as in the source scripts)
------------------------------------------------------------------------------
-- (tools/refresh-upgrade writes this block with tools/extract-sql)
-- BEGIN functions
CREATE OR REPLACE FUNCTION cartera.ensure_customer_states(customers bigint[], as_of timestamptz)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  INSERT INTO cartera.customer_state AS s (customer_id, summary, status)
    SELECT DISTINCT c, ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, as_of)::cartera.rfm_summary,
           'lead'::cartera.lifecycle_status
      FROM unnest(customers) c
     WHERE c IS NOT NULL AND NOT EXISTS (SELECT 1 FROM cartera.customer_state x WHERE x.customer_id = c)
    ON CONFLICT (customer_id) DO NOTHING;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.ensure_customer_states(bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.ensure_customer_states(bigint[], timestamptz) IS
  'insert a lead''s state row (summary as of as_of) for each given customer without one; used by recompute_state() and the deferred applier';

CREATE OR REPLACE FUNCTION cartera.recompute_state(customers bigint[], as_of timestamptz)
  RETURNS TABLE (customer_id bigint, from_status cartera.lifecycle_status, to_status cartera.lifecycle_status,
                 from_segment cartera.segment, to_segment cartera.segment)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  sources text := cartera.purchase_rows_sql();
  lifespan interval := current_setting('cartera.clv_lifespan')::interval;
BEGIN
  IF customers IS NOT NULL THEN
    PERFORM cartera.ensure_customer_states(customers, as_of);
    PERFORM 1 FROM cartera.customer_state s
      WHERE s.customer_id = ANY (customers) ORDER BY s.customer_id FOR UPDATE OF s;
  ELSE
    LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  END IF;

  RETURN QUERY EXECUTE cartera.state_update_sql(format($q$
      WITH aggregated AS (
        SELECT r.customer_id, cartera.rfm_state(r.purchased_at, r.amount, $2) AS state,
               coalesce(max(r.purchased_at) <= $2, true) AS complete
          FROM (%s) r
         WHERE ($1 IS NULL OR r.customer_id = ANY ($1))
         GROUP BY r.customer_id)
      SELECT a.customer_id, a.state, a.complete FROM aggregated a
      UNION ALL
      -- customers named but without any purchase row left: back to lead
      SELECT s.customer_id, (SELECT cartera.rfm_state(NULL::timestamptz, NULL::numeric, $2)), true
        FROM cartera.customer_state s
       WHERE ($1 IS NULL OR s.customer_id = ANY ($1))
         AND NOT EXISTS (SELECT 1 FROM aggregated a WHERE a.customer_id = s.customer_id)$q$, sources),
    'SELECT * FROM logged',
    $q$queue_emptied AS (
        UPDATE cartera.deferred_change d SET state = NULL, recompute = false
         WHERE ($1 IS NULL OR d.customer_id = ANY ($1)) AND d.purchase_ids IS NOT NULL
           AND (d.state IS NOT NULL OR d.recompute)),
      queue_taken AS (
        DELETE FROM cartera.deferred_change d
         WHERE ($1 IS NULL OR d.customer_id = ANY ($1)) AND d.purchase_ids IS NULL)$q$)
  USING customers, as_of, lifespan;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.recompute_state(bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.recompute_state(bigint[], timestamptz) IS
  'recompute customer_state of the given customers (NULL: all) at as_of from every purchase source; returns the status/segment transitions it logged';

CREATE OR REPLACE FUNCTION cartera.purchase_rows_added() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cartera_purchase_rows_added' LANGUAGE C SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp;
REVOKE EXECUTE ON FUNCTION cartera.purchase_rows_added() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_rows_added() IS
  'INSERT statement trigger of every purchase source: refuses future purchases and amounts out of range (|amount| >= 1e15), merges the new rows into each customer''s stored state and raises purchase alerts';

CREATE OR REPLACE FUNCTION cartera.purchase_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the portfolio's calendar
  customer_column name := TG_ARGV[0];
  at_column name := TG_ARGV[1];
  customers bigint[];
  latest timestamptz;
  now_ts timestamptz := clock_timestamp();
  amount_column name;
  too_big numeric;
  deferred boolean := (SELECT p.mode = 'deferred' FROM cartera.purchase_source p WHERE p.source = TG_RELID);
BEGIN
  -- before any cast of a tracked table's columns below, which run with the
  -- owner's rights: the table must be a purchase source registered with
  -- these very columns (a trigger created by hand on another table, or
  -- naming other columns, is refused), and they must still be of built-in
  -- types (the extension's own cartera.purchase is checked by recompute_state)
  IF TG_RELID <> 'cartera.purchase'::regclass THEN
    IF TG_NARGS <> 2 OR NOT EXISTS (SELECT 1 FROM cartera.purchase_source p
                                     WHERE p.source = TG_RELID AND p.customer_column = TG_ARGV[0]
                                       AND p.at_column = TG_ARGV[1]) THEN
      RAISE EXCEPTION 'table %.% is not a purchase source of cartera', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('Trigger %s calls cartera.purchase_rows_changed() with columns %s, which cartera.purchase_source does not list for this table.',
                              TG_NAME, array_to_string(TG_ARGV, ', ')),
              HINT = 'Attach purchase tables with cartera.track_purchases().';
    END IF;
    PERFORM cartera.purchase_rows_sql();
  END IF;
  IF TG_OP = 'TRUNCATE' THEN
    IF deferred THEN
      -- every customer, by the applier (sql/cartera_deferred.sql)
      INSERT INTO cartera.deferred_change (customer_id, recompute, source) VALUES (NULL, true, TG_RELID);
    ELSE
      PERFORM cartera.recompute_state(NULL, now_ts);
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    EXECUTE format('SELECT max(%I::timestamptz) FROM new_rows', at_column) INTO latest;
    IF latest > now_ts THEN
      RAISE EXCEPTION 'purchase date % is in the future', latest
        USING ERRCODE = 'check_violation',
              DETAIL = format('Table %s, column %I; the server time is %s.', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, at_column, now_ts),
              HINT = 'Record purchases when they happen; planned orders are not purchases yet.';
    END IF;
    -- the bound the INSERT trigger (state_trigger.c) checks: |amount| < 1e15
    SELECT p.amount_column INTO amount_column FROM cartera.purchase_source p WHERE p.source = TG_RELID;
    EXECUTE format('SELECT a FROM (SELECT %I::numeric AS a FROM new_rows WHERE %I IS NOT NULL) r '
                   'WHERE abs(a) >= 1e15 AND a NOT IN (''NaN'', ''Infinity'', ''-Infinity'') LIMIT 1',
                   amount_column, at_column) INTO too_big;
    IF too_big IS NOT NULL THEN
      RAISE EXCEPTION 'purchase amount % is out of range',
                      CASE WHEN length(too_big::text) > 24 THEN btrim(to_char(too_big, '9.99EEEE')) ELSE too_big::text END
        USING ERRCODE = 'numeric_value_out_of_range',
              DETAIL = format('Purchase amounts must be greater than -1e15 and less than 1e15 (table %s, column %I).',
                              TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, amount_column),
              HINT = 'Check the amount''s unit and decimal separator.';
    END IF;
  END IF;
  EXECUTE CASE TG_OP
    WHEN 'DELETE' THEN format('SELECT array_agg(DISTINCT %I::bigint) FROM old_rows', customer_column)
    ELSE format('SELECT array_agg(DISTINCT c) FROM (SELECT %1$I::bigint FROM new_rows UNION ALL SELECT %1$I::bigint FROM old_rows) r(c)',
                customer_column) END
    INTO customers;
  IF customers IS NOT NULL AND deferred THEN
    -- deferred mode: the customers to recompute are queued, nothing else
    INSERT INTO cartera.deferred_change (customer_id, recompute, source)
      SELECT c, true, TG_RELID FROM unnest(customers) c WHERE c IS NOT NULL;
  ELSIF customers IS NOT NULL THEN
    -- welcome, welcome back and transition alerts are raised now
    -- (cartera_alerts.sql); cross-sell rules look only at inserted purchases,
    -- which purchase_rows_added() handles (an UPDATE, e.g. a merge moving
    -- purchases, is not a new sale)
    PERFORM cartera.raise_purchase_alerts(
      ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(customers, now_ts) t),
      NULL, now_ts);
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.purchase_rows_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_rows_changed() IS
  'UPDATE, DELETE and TRUNCATE statement trigger of every purchase source (INSERT: purchase_rows_added() or purchase_rows_deferred()): refuses future purchase dates and amounts out of range (|amount| >= 1e15) and recomputes the state of the customers touched (deferred mode: queues them)';

CREATE OR REPLACE FUNCTION cartera.refresh(as_of timestamptz DEFAULT now(), time_unit text DEFAULT 'weeks')
  RETURNS TABLE (customers bigint, transitions bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  fit record;
  model cartera.portfolio_model;
BEGIN
  -- arguments, no restore running, the deferred queue applied first
  -- (through the purchase path: welcome alerts, cross-sell), the states
  -- locked, the clock only moving forward (sql/cartera_shards.sql)
  PERFORM cartera.refresh_begin(as_of, time_unit);
  -- one aggregate pass: breakpoints and the four fits (the three transaction
  -- models share one (x, t_x, T) histogram: same transition, same state)
  EXECUTE format($q$
    SELECT cartera.breakpoints((s).recency_days, 5) AS rb, cartera.breakpoints((s).frequency, 5) AS fb,
           cartera.breakpoints((s).monetary_total::float8, 5) AS mb,
           cartera.bgnbd_fit(s, $2) AS bg, cartera.pareto_nbd_fit(s, $2) AS pnbd, cartera.mbgnbd_fit(s, $2) AS mbg,
           cartera.gamma_gamma_fit(s) AS gg
      FROM (SELECT cartera.rfm(r.purchased_at, r.amount, $1) AS s FROM (%s) r GROUP BY r.customer_id) q
     WHERE (s).purchases > 0$q$, cartera.purchase_rows_sql())
  INTO fit
  USING as_of, lower(time_unit);
  model := cartera.refresh_model(as_of, time_unit, fit.rb, fit.fb, fit.mb, fit.bg, fit.pnbd, fit.mbg, fit.gg);
  -- stored (without the fits that did not converge), every state recomputed
  -- with it, changes logged, segment-change alerts raised
  RETURN QUERY SELECT * FROM cartera.refresh_with_model(model);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh(timestamptz, text) IS
  'recompute breakpoints, the transaction models (BG/NBD, Pareto/NBD, MBG/NBD: the chosen one fills the predictions, every fit goes to model_history), Gamma-Gamma and every customer''s state at as_of (default now(); not null, finite, not in the future, not before the last refresh''s as_of); returns customers and transitions logged';

CREATE OR REPLACE FUNCTION cartera.customer_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  top bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO cartera.customer_state (customer_id, summary, status, rfm_state)
      SELECT n.customer_id,
             ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, now())::cartera.rfm_summary,
             'lead', (SELECT cartera.rfm_state(NULL::timestamptz, NULL::numeric, now()))
        FROM new_rows n
      ON CONFLICT (customer_id) DO NOTHING;
    -- ids given explicitly (a loader bringing its own, as the owner: agents
    -- and managers cannot) move the sequence past them, so that the next
    -- customer added without an id does not collide with them
    top := (SELECT max(n.customer_id) FROM new_rows n);
    IF top > (SELECT CASE WHEN q.is_called THEN q.last_value ELSE q.last_value - 1 END
                FROM cartera.customer_customer_id_seq q) THEN
      PERFORM pg_catalog.setval('cartera.customer_customer_id_seq', top);
    END IF;
  ELSE
    -- nothing about a deleted customer outlives them (alerts and interactions
    -- go by ON DELETE CASCADE): no later customer can inherit their history
    DELETE FROM cartera.customer_state s USING old_rows o WHERE s.customer_id = o.customer_id;
    DELETE FROM cartera.status_transition t USING old_rows o WHERE t.customer_id = o.customer_id;
    DELETE FROM cartera.customer_merge m USING old_rows o WHERE m.keep_id = o.customer_id;
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_rows_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_rows_changed() IS
  'statement trigger of cartera.customer: a new customer starts as a lead in customer_state (explicit ids move the id sequence past them); a deleted one takes its state, transitions and merge records with it';

CREATE OR REPLACE FUNCTION cartera.customer_id_fixed() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF NEW.customer_id IS DISTINCT FROM OLD.customer_id THEN
    RAISE EXCEPTION 'the id of customer % cannot change', OLD.customer_id
      USING ERRCODE = 'feature_not_supported',
            DETAIL = format('The update would make it %s; purchases, states, alerts and history refer to the id.', NEW.customer_id),
            HINT = 'To join two records of one customer, use cartera.merge_customers(keep, drop).';
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_id_fixed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_id_fixed() IS 'row trigger of cartera.customer: refuses a change of customer_id';

CREATE OR REPLACE FUNCTION cartera.customer_owner_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  UPDATE cartera.alert a SET agent_id = n.owner_agent_id
    FROM new_rows n JOIN old_rows o ON o.customer_id = n.customer_id
   WHERE n.owner_agent_id IS DISTINCT FROM o.owner_agent_id
     AND a.customer_id = n.customer_id
     AND a.status IN ('open', 'acknowledged', 'snoozed')
     AND a.agent_id IS DISTINCT FROM n.owner_agent_id;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_owner_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_owner_changed() IS
  'statement trigger of cartera.customer: a customer whose owner changed takes their open alerts to the new owner';

CREATE OR REPLACE FUNCTION cartera.raise_alerts(customer_ids bigint[], kinds text[], due_dates date[],
                                     details text[], agent_ids bigint[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  max_contacts integer := current_setting('cartera.max_contacts')::integer;
  contact_window interval := current_setting('cartera.contact_window')::interval;
  lang text := current_setting('cartera.language');
BEGIN
  IF coalesce(array_length(kinds, 1), 0) = 0 THEN
    RETURN;                     -- nothing proposed: skip the policy queries
  END IF;
  RETURN QUERY
  WITH candidate AS (
    SELECT c.customer_id, c.kind, c.due_on, c.detail, c.agent_id
      FROM unnest(customer_ids, kinds, due_dates, details, agent_ids) AS c(customer_id, kind, due_on, detail, agent_id)),
  allowed AS (
    SELECT c.*, k.colour, k.category, k.due_days, k.holdout_share, k.holdout_period,
           coalesce(c.agent_id, cu.owner_agent_id) AS owner,
           rtrim(format(CASE WHEN lang = 'en' THEN k.message_en ELSE k.message_es END,
                        coalesce(cu.full_name, ag.name), coalesce(c.detail, ''))) AS message
      FROM candidate c
      JOIN cartera.alert_kind k ON k.kind = c.kind AND k.enabled
      LEFT JOIN cartera.customer cu ON cu.customer_id = c.customer_id
      LEFT JOIN cartera.agent ag ON ag.agent_id = c.agent_id
     WHERE (c.customer_id IS NULL OR (cu.customer_id IS NOT NULL AND cu.forgotten_at IS NULL))
       AND (k.category <> 'marketing' OR cu.marketing_consent)
       -- one alert still to do per (customer, kind), tested before the
       -- holdout draw: a customer whose alert of this kind is still open is
       -- not drawn again, so that a held-out alert is never raised for a
       -- customer being alerted (the unique index alone would drop only the
       -- alerted candidates, and the held-out group would fill with them)
       AND NOT EXISTS (SELECT 1 FROM cartera.alert a
                        WHERE c.customer_id IS NOT NULL AND a.customer_id = c.customer_id AND a.kind = c.kind
                          AND a.status IN ('open', 'acknowledged', 'snoozed'))
       -- (two tests, not one with OR: each can use its index)
       AND NOT EXISTS (SELECT 1 FROM cartera.alert a
                        WHERE c.customer_id IS NOT NULL AND a.customer_id = c.customer_id AND a.kind = c.kind
                          AND a.raised_at > as_of - k.cooldown AND a.raised_at <= as_of)
       AND NOT EXISTS (SELECT 1 FROM cartera.alert a
                        WHERE c.customer_id IS NULL AND a.customer_id IS NULL AND a.agent_id = c.agent_id
                          AND a.kind = c.kind AND a.raised_at > as_of - k.cooldown AND a.raised_at <= as_of)),
  recent AS (
    SELECT a.customer_id, count(*) AS contacts
      FROM cartera.alert a JOIN cartera.alert_kind k ON k.kind = a.kind
     WHERE k.category IN ('relationship', 'marketing')
       AND a.raised_at > as_of - contact_window AND a.raised_at <= as_of
       AND a.customer_id IN (SELECT customer_id FROM allowed)
     GROUP BY a.customer_id),
  ranked AS (
    SELECT al.*, coalesce(r.contacts, 0) AS contacts,
           row_number() OVER (PARTITION BY al.customer_id, al.category IN ('relationship', 'marketing')
                              ORDER BY array_position(ARRAY['red', 'amber', 'green', 'blue'], al.colour), al.kind) AS nth
      FROM allowed al LEFT JOIN recent r ON r.customer_id = al.customer_id),
  drawn AS (
    SELECT r.*, (r.customer_id IS NOT NULL AND r.holdout_share > 0 AND r.category IN ('relationship', 'marketing')
                 AND cartera.holdout_draw(r.customer_id, r.kind, date_trunc(r.holdout_period, as_of::date)::date)
                     < r.holdout_share) AS held
      FROM ranked r
     WHERE r.category NOT IN ('relationship', 'marketing') OR r.contacts + r.nth <= max_contacts),
  inserted AS (
    INSERT INTO cartera.alert (customer_id, agent_id, kind, colour, raised_at, due_on, message, detail,
                               status, closed_at, queue, queued_on)
    SELECT customer_id, owner, d.kind, colour, as_of, coalesce(due_on, as_of::date + due_days), message, detail,
           CASE WHEN held THEN 'held_out' ELSE 'open' END, CASE WHEN held THEN as_of END,
           CASE WHEN category = 'service' THEN 'queued' END, CASE WHEN category = 'service' THEN as_of::date END
      FROM drawn d
     ORDER BY d.customer_id, d.kind
    ON CONFLICT DO NOTHING
    RETURNING alert_id, alert.kind, alert.colour, alert.customer_id, alert.agent_id, alert.status),
  touched AS (
    UPDATE cartera.customer_state s SET last_alert_at = as_of
      FROM inserted i WHERE s.customer_id = i.customer_id AND i.status <> 'held_out'
    RETURNING 1),
  announced AS (
    SELECT i.kind, CASE WHEN i.status <> 'held_out' THEN
                     pg_notify('cartera_alert',
                               json_build_object('id', i.alert_id, 'kind', i.kind, 'colour', i.colour,
                                                 'customer', i.customer_id, 'agent', i.agent_id)::text) END AS n
      FROM inserted i)
  SELECT a.kind, count(*) FROM announced a GROUP BY a.kind;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_alerts(bigint[], text[], date[], text[], bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_alerts(bigint[], text[], date[], text[], bigint[], timestamptz) IS
  'raise candidate alerts through the contact policy (consent, cap, cool-down, one open per kind), hold out each kind''s holdout_share of customers, NOTIFY cartera_alert for the others; returns counts per kind (held out included)';

CREATE OR REPLACE FUNCTION cartera.raise_transition_alerts(changes cartera.state_transition[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- segment names in the portfolio's language
BEGIN
  IF coalesce(array_length(changes, 1), 0) = 0 THEN
    RETURN;
  END IF;
  -- segment names are looked up once per distinct segment, not per change
  -- (a bulk load brings tens of thousands of changes, over at most 729 cells)
  RETURN QUERY
  WITH t AS (SELECT * FROM unnest(changes)),
  -- first the Champions among the segments left (usually none), then the
  -- names of the segments those customers moved to
  champion AS (
    SELECT x.s, cartera.segment_label(x.s) AS shown
      FROM (SELECT DISTINCT t.from_segment AS s FROM t WHERE t.from_segment IS NOT NULL) x
     WHERE cartera.segment_label(x.s, 'en') = 'Champions'),
  moved AS (
    SELECT t.*, ch.shown AS from_shown FROM t JOIN champion ch ON ch.s = t.from_segment),
  label AS (
    SELECT x.s, cartera.segment_label(x.s, 'en') AS en, cartera.segment_label(x.s) AS shown
      FROM (SELECT DISTINCT m.to_segment AS s FROM moved m WHERE m.to_segment IS NOT NULL) x)
  SELECT r.kind, r.raised FROM (
    SELECT array_agg(m.customer_id) AS ids, array_agg('champion_at_risk'::text) AS kinds,
           array_agg(NULL::date) AS dues,
           array_agg(format('%s -> %s', m.from_shown, coalesce(lt.shown, m.to_status::text))) AS details,
           array_agg(NULL::bigint) AS agents
      FROM moved m LEFT JOIN label lt ON lt.s = m.to_segment
     WHERE lt.en = 'At Risk' OR (m.to_status = 'at_risk' AND m.from_status <> 'at_risk')) c,
    LATERAL cartera.raise_alerts(c.ids, c.kinds, c.dues, c.details, c.agents, as_of) r
   WHERE c.ids IS NOT NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_transition_alerts(cartera.state_transition[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_transition_alerts(cartera.state_transition[], timestamptz) IS
  'raise the alerts that a change of state calls for (a Champion falling to At Risk)';

CREATE OR REPLACE FUNCTION cartera.raise_purchase_alerts(changes cartera.state_transition[], purchase_ids bigint[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
-- Small statements, each skipped when it has nothing to do: this runs for
-- every purchase statement whose customers change status or segment.
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  ids bigint[];
  kinds text[];
  dues date[];
  details text[];
  sell_ids bigint[];
  sell_kinds text[];
  sell_dues date[];
  sell_details text[];
BEGIN
  IF coalesce(array_length(changes, 1), 0) = 0 AND purchase_ids IS NULL THEN
    RETURN;
  END IF;
  -- a customer who buys again no longer needs to be won back (first, so
  -- that an alert raised below by this same purchase stays open): moot when
  -- nobody had started on it, done when an agent had
  IF EXISTS (SELECT 1 FROM unnest(changes) t WHERE t.to_status IN ('new', 'active', 'reactivated')) THEN
    UPDATE cartera.alert a
       SET status = CASE WHEN a.status = 'acknowledged' THEN 'done' ELSE 'moot' END,
           closed_at = as_of, snoozed_until = NULL,
           resolution = coalesce(a.resolution, 'the customer bought again')
      FROM unnest(changes) t
     WHERE a.customer_id = t.customer_id AND t.to_status IN ('new', 'active', 'reactivated')
       AND a.kind IN ('reactivation', 'exit_survey', 'cant_lose', 'champion_at_risk', 'idle_lead')
       AND a.status IN ('open', 'acknowledged', 'snoozed');
  END IF;
  -- a first purchase that is recent (status new), or coming back after
  -- dormancy; loading old history raises neither
  SELECT array_agg(t.customer_id), array_agg(CASE WHEN t.to_status = 'new' THEN 'welcome' ELSE 'welcome_back' END),
         array_agg(NULL::date), array_agg(NULL::text)
    INTO ids, kinds, dues, details
    FROM unnest(changes) t
   WHERE (t.from_status = 'lead' AND t.to_status = 'new')
      OR (t.to_status = 'reactivated' AND t.from_status IS DISTINCT FROM 'reactivated');
  -- cross-sell rules on the products just bought
  IF purchase_ids IS NOT NULL THEN
    SELECT array_agg(c.customer_id), array_agg('cross_sell'::text), array_agg(c.due_on), array_agg(c.offer)
      INTO sell_ids, sell_kinds, sell_dues, sell_details
      FROM (SELECT DISTINCT ON (p.customer_id, r.rule_id) p.customer_id,
                   (p.purchased_at + make_interval(days => r.after_days))::date AS due_on, r.offer
              FROM cartera.purchase p
              JOIN cartera.cross_sell_rule r ON r.active
               AND (r.bought_category IS NULL OR r.bought_category = p.category)
               AND (r.bought_product IS NULL OR r.bought_product = p.product)
             WHERE p.purchase_id = ANY (purchase_ids) AND p.kind = 'sale'
               -- an offer whose moment passed more than a month ago is not an opportunity
               AND p.purchased_at + make_interval(days => r.after_days) >= as_of - interval '30 days') c;
    ids := ids || sell_ids;
    kinds := kinds || sell_kinds;
    dues := dues || sell_dues;
    details := details || sell_details;
  END IF;
  IF ids IS NOT NULL THEN
    RETURN QUERY SELECT r.kind, r.raised
                   FROM cartera.raise_alerts(ids, kinds, dues, details,
                                             array_fill(NULL::bigint, ARRAY[array_length(ids, 1)]), as_of) r;
  END IF;
  RETURN QUERY SELECT r.kind, r.raised FROM cartera.raise_transition_alerts(changes, as_of) r;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_purchase_alerts(cartera.state_transition[], bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_purchase_alerts(cartera.state_transition[], bigint[], timestamptz) IS
  'raise welcome, welcome back, cross-sell and transition alerts for a purchase statement, and close win-back alerts of customers who bought again';

CREATE OR REPLACE FUNCTION cartera.run_followups(as_of date DEFAULT current_date)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  day record;
  high_value double precision;
BEGIN
  -- 1-2. checks, the queue, statuses and snoozed alerts
  SELECT * INTO day FROM cartera.followups_begin(as_of);
  -- the portfolio-wide figures (on shards, the coordinator computes them over all)
  SELECT percentile_cont(0.8) WITHIN GROUP (ORDER BY v) INTO high_value FROM unnest(day.clv) v;
  -- 3. every rule proposes candidates; the policy decides
  RETURN QUERY SELECT * FROM cartera.followups_raise(as_of, day.as_ts, day.changes, high_value, day.revenue, true);
  -- 4. the day's plan: moot alerts closed, overdue ones escalated, every
  -- agent's queue filled up to capacity (cartera.plan_day)
  PERFORM count(*) FROM cartera.plan_day(as_of);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.run_followups(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.run_followups(date) IS
  'the daily follow-up job for day as_of (default current_date; not null, finite, at most tomorrow; a past day not before the day of the latest stored state): moves statuses to the end of that day (never past now), raises the alerts of every rule through the contact policy and the holdout draw, then plans the day (cartera.plan_day); returns alerts raised per kind';

CREATE OR REPLACE FUNCTION cartera.followups_begin(as_of date)
  RETURNS TABLE (as_ts timestamptz, changes cartera.state_transition[], clv double precision[], revenue jsonb)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  latest timestamptz;
BEGIN
  -- not over a portfolio that is being restored (cartera.pre_restore())
  PERFORM cartera.refuse_while_restoring('run_followups()');
  IF as_of IS NULL THEN
    RAISE EXCEPTION 'as_of must not be null'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Omit the argument to run the job for today (current_date).';
  END IF;
  IF NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite date'
      USING ERRCODE = 'datetime_field_overflow', DETAIL = format('as_of is %s.', as_of),
            HINT = 'Omit the argument to run the job for today (current_date).';
  END IF;
  IF as_of > current_date + 1 THEN
    RAISE EXCEPTION 'as_of % is in the future', as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Today is %s (TimeZone %s); the job would raise alerts for a day that has not come.',
                            current_date, current_setting('TimeZone')),
            HINT = 'Omit the argument to run the job for today (current_date).';
  END IF;
  -- purchases still queued by deferred sources first: the job must not see a
  -- customer who bought yesterday as dormant (sql/cartera_deferred.sql)
  PERFORM count(*) FROM cartera.catch_up();
  -- the portfolio's clock: the latest moment a state was computed at (a run
  -- for today is never refused: a purchase recorded after midnight, while the
  -- job of the day before runs, is not the job going back)
  IF as_of < current_date THEN
    SELECT max((s.summary).as_of) INTO latest FROM cartera.customer_state s;
  END IF;
  IF as_of < latest::date THEN
    RAISE EXCEPTION 'as_of % is before the portfolio''s latest state (as of %)', as_of, latest
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'The job would move statuses back in time and raise alerts dated in the past.',
            HINT = format('Run the job for %s or a later day (omit the argument for today).', latest::date);
  END IF;
  -- the end of the day, but never later than now
  as_ts := least((as_of + 1)::timestamptz, clock_timestamp());
  -- 1. statuses move with time: recompute them from the stored summaries
  WITH moved AS (
    UPDATE cartera.customer_state s
       SET status = cartera.lifecycle_status(s.summary, as_ts), updated_at = clock_timestamp()
      FROM (SELECT customer_id, status AS old_status FROM cartera.customer_state) o
     WHERE o.customer_id = s.customer_id
       AND (s.summary).purchases > 0 AND (s.summary).last_purchase <= as_ts
       AND s.status IS DISTINCT FROM cartera.lifecycle_status(s.summary, as_ts)
    RETURNING s.customer_id, o.old_status, s.status, s.segment),
  logged AS (
    INSERT INTO cartera.status_transition (customer_id, changed_at, from_status, to_status, from_segment, to_segment)
    SELECT customer_id, as_ts, old_status, status, segment, segment FROM moved)
  SELECT array_agg(ROW(customer_id, old_status, status, segment, segment)::cartera.state_transition)
    INTO changes FROM moved;

  -- 2. snoozed alerts whose date has come are open again; one an agent is
  -- changing right now is skipped, as in plan_day (the job never waits for
  -- an agent, who could be waiting for a row the job already holds: a
  -- deadlock, test/specs/followup_concurrency.spec); the next run reopens it
  UPDATE cartera.alert a SET status = 'open', snoozed_until = NULL
   WHERE a.alert_id IN (SELECT x.alert_id FROM cartera.alert x
                         WHERE x.status = 'snoozed' AND x.snoozed_until <= as_of
                           FOR UPDATE SKIP LOCKED)
     AND a.status = 'snoozed';

  clv := ARRAY(SELECT s.clv::float8 FROM cartera.customer_state s
                 WHERE (s.summary).purchases > 0 AND s.clv IS NOT NULL);
  revenue := (SELECT jsonb_object_agg(t.agent_id::text, coalesce(m.revenue, 0))
                FROM cartera.agent_target t
                LEFT JOIN LATERAL (SELECT sum(p.amount) AS revenue
                                     FROM cartera.purchase p JOIN cartera.customer c USING (customer_id)
                                    WHERE c.owner_agent_id = t.agent_id
                                      AND p.purchased_at >= date_trunc('month', as_of) AND p.purchased_at < as_ts) m ON true
               WHERE t.month = date_trunc('month', as_of)::date AND t.revenue_target > 0);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.followups_begin(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.followups_begin(date) IS
  'first half of the daily job for day as_of (run_followups(), or a shard''s for shard_followups()): checks, applies the deferred queue, moves statuses to the end of the day (logged) and reopens snoozed alerts; returns the end of the day used, the status changes, the CLV of every buying customer and the month''s revenue per agent with a revenue goal';

CREATE OR REPLACE FUNCTION cartera.followups_raise(as_of date, as_ts timestamptz, changes cartera.state_transition[],
                                        high_value double precision, revenue jsonb, agent_alerts boolean)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  idle interval := current_setting('cartera.lead_idle_after')::interval;
  horizon interval := current_setting('cartera.occasion_horizon')::interval;
  cut numeric := high_value;   -- compared as run_followups() always did: numeric
BEGIN
  IF as_of IS NULL OR as_ts IS NULL OR agent_alerts IS NULL THEN
    RAISE EXCEPTION 'as_of, as_ts and agent_alerts must not be null'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass what cartera.followups_begin() returned.';
  END IF;
  -- 3. every rule proposes candidates; the policy decides
  RETURN QUERY
  WITH candidate AS (
    -- high-value customers at risk
    SELECT s.customer_id, 'cant_lose'::text AS kind, NULL::date AS due_on,
           format('CLV %s', s.clv) AS detail, NULL::bigint AS agent_id
      FROM cartera.customer_state s WHERE s.status = 'at_risk' AND s.clv >= cut
    UNION ALL
    SELECT s.customer_id, 'reactivation', NULL, format('%s days without buying', (s.summary).recency_days), NULL
      FROM cartera.customer_state s WHERE s.status = 'dormant'
    UNION ALL
    SELECT s.customer_id, 'exit_survey', NULL, NULL, NULL
      FROM cartera.customer_state s JOIN cartera.customer c USING (customer_id)
     WHERE s.status = 'lost' AND c.lost_reason IS NULL
    UNION ALL
    -- leads with no purchase and no contact for a while
    SELECT c.customer_id, 'idle_lead', NULL,
           CASE WHEN c.owner_agent_id IS NULL THEN 'no owner: cartera.assign_owner()' END, NULL
      FROM cartera.customer c JOIN cartera.customer_state s USING (customer_id)
     WHERE s.status = 'lead' AND c.created_at <= as_ts - idle
       AND NOT EXISTS (SELECT 1 FROM cartera.interaction i
                        WHERE i.customer_id = c.customer_id AND i.happened_at > as_ts - idle)
    UNION ALL
    -- birthdays in the next days (29 February counts on 28 February in common years)
    SELECT c.customer_id, 'birthday', b.next_birthday, to_char(b.next_birthday, 'YYYY-MM-DD'), NULL
      FROM cartera.customer c
      CROSS JOIN LATERAL (
        SELECT min(d) AS next_birthday
          FROM (SELECT make_date(y, extract(month FROM c.birthday)::int,
                                 least(extract(day FROM c.birthday)::int,
                                       extract(day FROM (make_date(y, extract(month FROM c.birthday)::int, 1)
                                                         + interval '1 month - 1 day'))::int)) AS d
                  FROM generate_series(extract(year FROM as_of)::int, extract(year FROM as_of)::int + 1) y) yy
         WHERE d >= as_of) b
     WHERE c.birthday IS NOT NULL AND b.next_birthday <= as_of + horizon
    UNION ALL
    -- occasions of the customer's country (or of every country) in the next days
    SELECT c.customer_id, 'occasion', d.on_date,
           format('%s (%s)', CASE WHEN current_setting('cartera.language', true) = 'en' THEN o.name_en ELSE o.name_es END,
                  to_char(d.on_date, 'YYYY-MM-DD')), NULL
      FROM cartera.occasions() o
      CROSS JOIN LATERAL (SELECT cartera.occasion_date(o, y) AS on_date
                            FROM generate_series(extract(year FROM as_of)::int, extract(year FROM as_of)::int + 1) y) d
      JOIN cartera.customer c ON o.country IS NULL OR o.country = c.country
     WHERE d.on_date BETWEEN as_of AND as_of + horizon
    UNION ALL
    -- agents behind the pace of their monthly revenue goal
    SELECT NULL, 'below_target', NULL,
           format('%s of %s (%s%% of the month gone)', coalesce(m.revenue, 0), t.revenue_target,
                  round(100.0 * extract(day FROM as_of) / extract(day FROM (date_trunc('month', as_of) + interval '1 month - 1 day')))),
           t.agent_id
      FROM cartera.agent_target t
      CROSS JOIN LATERAL (SELECT (revenue ->> t.agent_id::text)::numeric AS revenue) m
     WHERE agent_alerts AND t.month = date_trunc('month', as_of)::date AND t.revenue_target > 0
       AND coalesce(m.revenue, 0) < t.revenue_target * extract(day FROM as_of)
                                     / extract(day FROM (date_trunc('month', as_of) + interval '1 month - 1 day'))),
  gathered AS (
    SELECT array_agg(customer_id) AS ids, array_agg(c.kind) AS kinds, array_agg(due_on) AS dues,
           array_agg(detail) AS details, array_agg(agent_id) AS agents
      FROM candidate c),
  raised AS (
    SELECT r.kind, r.raised FROM gathered g, LATERAL cartera.raise_alerts(g.ids, g.kinds, g.dues, g.details, g.agents, as_ts) r
     WHERE g.ids IS NOT NULL
    UNION ALL
    SELECT t.kind, t.raised FROM cartera.raise_transition_alerts(changes, as_ts) t)
  SELECT k.kind, coalesce(sum(r.raised), 0)::bigint
    FROM cartera.alert_kind k LEFT JOIN raised r ON r.kind = k.kind
   GROUP BY k.kind ORDER BY k.kind;

END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.followups_raise(date, timestamptz, cartera.state_transition[], double precision, jsonb, boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.followups_raise(date, timestamptz, cartera.state_transition[], double precision, jsonb, boolean) IS
  'second half of the daily job: raises the alerts of every rule through the contact policy and the holdout draw with the given portfolio-wide figures (high_value: the can''t-lose CLV cut; revenue: the month''s revenue per agent, below-target alerts only when agent_alerts) and the transition alerts of changes; returns alerts raised per kind';

CREATE OR REPLACE FUNCTION cartera.explain(customer_id bigint) RETURNS SETOF text
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  c cartera.customer;
  s cartera.customer_state;
  m cartera.portfolio_model;
  en boolean := coalesce(current_setting('cartera.language', true), 'es') = 'en';
  owner text;
  a record;
  n integer := 0;
BEGIN
  SELECT * INTO c FROM cartera.customer x WHERE x.customer_id = explain.customer_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'no_data_found';
  END IF;
  SELECT * INTO s FROM cartera.customer_state x WHERE x.customer_id = explain.customer_id;
  SELECT * INTO m FROM cartera.portfolio_model;
  SELECT name INTO owner FROM cartera.agent WHERE agent_id = c.owner_agent_id;

  RETURN NEXT format(CASE WHEN en THEN '%s (customer %s), owner: %s.' ELSE '%s (cliente %s), responsable: %s.' END,
                     c.full_name, c.customer_id, coalesce(owner, CASE WHEN en THEN 'none' ELSE 'ninguno' END));
  IF s.customer_id IS NULL OR (s.summary).purchases = 0 THEN
    RETURN NEXT CASE WHEN en THEN 'Status lead: no purchase yet.' ELSE 'Estado lead: todavía no ha comprado.' END;
  ELSE
    RETURN NEXT format(CASE WHEN en
        THEN 'Status %s as of %s: last purchase %s days before (%s), first %s days before; %s purchases on %s days, %s in total, average ticket %s.'
        ELSE 'Estado %s a %s: última compra %s días antes (%s), primera %s días antes; %s compras en %s días, %s en total, ticket medio %s.' END,
      s.status, to_char((s.summary).as_of, 'YYYY-MM-DD'), (s.summary).recency_days,
      to_char((s.summary).last_purchase, 'YYYY-MM-DD'), (s.summary).age_days,
      (s.summary).purchases, (s.summary).purchase_days, (s.summary).monetary_total, (s.summary).avg_ticket);
    RETURN NEXT format(CASE WHEN en
        THEN 'Thresholds: at risk after %s, dormant after %s, lost after %s, new within %s (mode %s); the gap before the last purchase was %s days.'
        ELSE 'Umbrales: en riesgo tras %s, dormido tras %s, perdido tras %s, nuevo dentro de %s (modo %s); el hueco antes de la última compra fue de %s días.' END,
      -- the portfolio's thresholds, by which the stored status was decided
      cartera.portfolio_setting_value('cartera.at_risk_after'),
      cartera.portfolio_setting_value('cartera.dormant_after'),
      cartera.portfolio_setting_value('cartera.lost_after'),
      cartera.portfolio_setting_value('cartera.new_window'),
      cartera.portfolio_setting_value('cartera.lifecycle_mode'),
      coalesce((s.summary).last_gap_days::text, '-'));
    IF s.segment IS NOT NULL THEN
      RETURN NEXT format(CASE WHEN en
          THEN 'Segment %s "%s": recency %s days -> R%s (cuts %s), frequency %s -> F%s (cuts %s), spend %s -> M%s (cuts %s), from the refresh of %s.'
          ELSE 'Segmento %s "%s": recencia %s días -> R%s (cortes %s), frecuencia %s -> F%s (cortes %s), gasto %s -> M%s (cortes %s), del refresh de %s.' END,
        s.segment, cartera.segment_label(s.segment),
        (s.summary).recency_days, cartera.recency_score(s.segment), m.recency_breaks,
        (s.summary).frequency, cartera.frequency_score(s.segment), m.frequency_breaks,
        (s.summary).monetary_total, cartera.monetary_score(s.segment), m.monetary_breaks,
        to_char(m.as_of, 'YYYY-MM-DD'));
    ELSE
      RETURN NEXT CASE WHEN en THEN 'No segment yet: run cartera.refresh().' ELSE 'Sin segmento todavía: ejecutar cartera.refresh().' END;
    END IF;
    RETURN NEXT format(CASE WHEN en
        THEN 'Value: CLV (formula) %s; purchase probability %s; expected purchases next 12 months %s; predicted CLV 12 months %s.'
        ELSE 'Valor: CLV (fórmula) %s; probabilidad de compra %s; compras esperadas en 12 meses %s; CLV predicho a 12 meses %s.' END,
      s.clv, coalesce(round(s.p_alive::numeric, 3)::text, '-'), coalesce(round(s.expected_purchases_12m::numeric, 2)::text, '-'),
      coalesce(round(s.clv_predicted_12m::numeric, 2)::text, '-'));
  END IF;
  FOR a IN SELECT x.colour, x.kind, x.due_on, x.status, x.message FROM cartera.alert x
            WHERE x.customer_id = explain.customer_id AND x.status IN ('open', 'acknowledged', 'snoozed')
            ORDER BY array_position(ARRAY['red', 'amber', 'green', 'blue'], x.colour), x.due_on LOOP
    n := n + 1;
    RETURN NEXT format(CASE WHEN en THEN 'Alert [%s] %s due %s (%s): %s' ELSE 'Alerta [%s] %s para %s (%s): %s' END,
                       a.colour, a.kind, a.due_on, a.status, a.message);
  END LOOP;
  IF n = 0 THEN
    RETURN NEXT CASE WHEN en THEN 'No open alerts.' ELSE 'Sin alertas abiertas.' END;
  END IF;
  IF c.lost_reason IS NOT NULL THEN
    RETURN NEXT format(CASE WHEN en THEN 'Reason given for leaving: %s' ELSE 'Motivo de la baja: %s' END, c.lost_reason);
  END IF;
END
$fn$;
COMMENT ON FUNCTION cartera.explain(bigint) IS
  'why a customer has their status, segment, value and open alerts, in cartera.language (thresholds and values involved)';

CREATE OR REPLACE FUNCTION cartera.merge_customers(keep bigint, drop bigint)
  RETURNS cartera.customer_merge
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  keep_row cartera.customer;
  drop_row cartera.customer;
  new_keep cartera.customer;
  src record;
  n bigint;
  tracked bigint := 0;
  moved jsonb := '{}';
  result cartera.customer_merge;
BEGIN
  IF keep IS NULL OR drop IS NULL THEN
    RAISE EXCEPTION 'customers to merge must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF keep = drop THEN
    RAISE EXCEPTION 'cannot merge customer % into itself', keep
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass the customer to keep first and its duplicate second.';
  END IF;

  -- 1. lock both
  PERFORM 1 FROM cartera.customer c
    WHERE c.customer_id IN (merge_customers.keep, merge_customers.drop)
    ORDER BY c.customer_id FOR UPDATE;
  SELECT * INTO keep_row FROM cartera.customer c WHERE c.customer_id = merge_customers.keep;
  IF NOT FOUND THEN
    -- on a shard: one of another shard is not "missing" (sql/cartera_shards.sql)
    PERFORM cartera.refuse_other_shard(keep, 'the customer to keep', 'A merge');
    RAISE EXCEPTION 'customer % does not exist', keep
      USING ERRCODE = 'no_data_found', DETAIL = 'It was given as the customer to keep.';
  END IF;
  SELECT * INTO drop_row FROM cartera.customer c WHERE c.customer_id = merge_customers.drop;
  IF NOT FOUND THEN
    PERFORM cartera.refuse_other_shard(drop, 'the duplicate', 'A merge');
    RAISE EXCEPTION 'customer % does not exist', drop
      USING ERRCODE = 'no_data_found', DETAIL = 'It was given as the duplicate to merge into customer ' || keep || '.';
  END IF;

  -- 2. registry: keep's values win, drop's fill the gaps
  UPDATE cartera.customer k
     SET company = coalesce(k.company, d.company),
         billing_id = coalesce(k.billing_id, d.billing_id),
         email = coalesce(k.email, d.email),
         phone = coalesce(k.phone, d.phone),
         mobile_phone = coalesce(k.mobile_phone, d.mobile_phone),
         postal_address = coalesce(k.postal_address, d.postal_address),
         work_address = coalesce(k.work_address, d.work_address),
         country = coalesce(k.country, d.country),
         region = coalesce(k.region, d.region),
         city = coalesce(k.city, d.city),
         birthday = coalesce(k.birthday, d.birthday),
         referral_source = coalesce(k.referral_source, d.referral_source),
         -- never the customer itself: keep referred by drop takes drop's referrer
         referred_by = nullif(coalesce(nullif(k.referred_by, d.customer_id), d.referred_by), k.customer_id),
         owner_agent_id = coalesce(k.owner_agent_id, d.owner_agent_id),
         marketing_consent = k.marketing_consent AND d.marketing_consent,
         lost_reason = coalesce(k.lost_reason, d.lost_reason),
         life_events = k.life_events || (SELECT coalesce(jsonb_agg(e.value ORDER BY e.ordinality), '[]')
                                            FROM jsonb_array_elements(d.life_events) WITH ORDINALITY e
                                           WHERE NOT k.life_events @> jsonb_build_array(e.value)),
         created_at = least(k.created_at, d.created_at)
    FROM cartera.customer d
   WHERE k.customer_id = keep_row.customer_id AND d.customer_id = drop_row.customer_id
  RETURNING k.* INTO new_keep;
  moved := jsonb_build_object('changed_fields',
             (SELECT coalesce(jsonb_agg(f.key ORDER BY f.key), '[]')
                FROM jsonb_each(to_jsonb(new_keep)) f
               WHERE f.value IS DISTINCT FROM to_jsonb(keep_row) -> f.key));

  -- 3. alerts (open duplicates of a kind dismissed first), interactions,
  --    referrals, history
  UPDATE cartera.alert d
     SET status = 'dismissed', snoozed_until = NULL, closed_at = clock_timestamp(),
         resolution = format('merged into customer %s', keep_row.customer_id)
   WHERE d.customer_id = drop_row.customer_id
     AND d.status IN ('open', 'acknowledged', 'snoozed')
     AND EXISTS (SELECT 1 FROM cartera.alert k
                  WHERE k.customer_id = keep_row.customer_id AND k.kind = d.kind
                    AND k.status IN ('open', 'acknowledged', 'snoozed'));
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('alerts_dismissed', n);
  UPDATE cartera.alert a
     SET customer_id = keep_row.customer_id,
         agent_id = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed')
                         THEN coalesce(new_keep.owner_agent_id, a.agent_id) ELSE a.agent_id END
   WHERE a.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('alerts', n);
  -- their history goes with them (by alert: alert_event's index)
  UPDATE cartera.alert_event e SET customer_id = keep_row.customer_id
   WHERE e.alert_id IN (SELECT a.alert_id FROM cartera.alert a WHERE a.customer_id = keep_row.customer_id)
     AND e.customer_id IS DISTINCT FROM keep_row.customer_id;
  UPDATE cartera.interaction i SET customer_id = keep_row.customer_id WHERE i.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('interactions', n);
  UPDATE cartera.customer c SET referred_by = keep_row.customer_id
   WHERE c.referred_by = drop_row.customer_id AND c.customer_id <> keep_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('referrals', n);
  UPDATE cartera.status_transition t SET customer_id = keep_row.customer_id WHERE t.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('transitions', n);
  UPDATE cartera.customer_state k SET last_alert_at = greatest(k.last_alert_at, d.last_alert_at)
    FROM cartera.customer_state d
   WHERE k.customer_id = keep_row.customer_id AND d.customer_id = drop_row.customer_id
     AND d.last_alert_at IS NOT NULL;

  -- 4. purchases, from every source (the triggers recompute both states)
  UPDATE cartera.purchase p SET customer_id = keep_row.customer_id WHERE p.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('purchases', n);
  FOR src IN SELECT s.source, s.customer_column FROM cartera.purchase_source s
              WHERE s.source <> 'cartera.purchase'::regclass ORDER BY s.source::oid LOOP
    EXECUTE format('UPDATE %s SET %I = $1 WHERE %I = $2', src.source, src.customer_column, src.customer_column)
      USING keep_row.customer_id, drop_row.customer_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    tracked := tracked + n;
  END LOOP;
  moved := moved || jsonb_build_object('tracked_purchases', tracked);
  -- what the triggers logged for drop while it emptied is not history
  DELETE FROM cartera.status_transition t WHERE t.customer_id = drop_row.customer_id;

  -- 5. audit (earlier merges into drop now belong to keep), delete (keep's
  --    state was recomputed by the purchase triggers when purchases moved;
  --    otherwise its purchases did not change)
  UPDATE cartera.customer_merge m SET keep_id = keep_row.customer_id WHERE m.keep_id = drop_row.customer_id;
  INSERT INTO cartera.customer_merge (keep_id, drop_id, dropped_row, moved)
    VALUES (keep_row.customer_id, drop_row.customer_id, to_jsonb(drop_row), moved)
    RETURNING * INTO result;
  DELETE FROM cartera.customer c WHERE c.customer_id = drop_row.customer_id;
  RETURN result;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.merge_customers(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION cartera.merge_customers(bigint, bigint) IS
  'merge duplicate customer drop into keep atomically (a manager''s tool, granted by grant_manager_role): fill keep''s empty registry fields, move alerts (dismissing duplicates of an open kind), interactions, referrals, history and purchases of every source (their triggers recompute both states), log to cartera.customer_merge, delete drop; returns the audit row';

CREATE OR REPLACE FUNCTION cartera.forget_customer(customer_id bigint) RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  n bigint;
  erased jsonb := '{}';
BEGIN
  IF customer_id IS NULL THEN
    RAISE EXCEPTION 'customer to forget must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  UPDATE cartera.customer c
     SET full_name = format('customer %s', c.customer_id), company = NULL, billing_id = NULL, email = NULL,
         phone = NULL, mobile_phone = NULL, postal_address = NULL, work_address = NULL, city = NULL,
         birthday = NULL, referral_source = NULL, referred_by = NULL, marketing_consent = false,
         lost_reason = NULL, life_events = '[]', forgotten_at = coalesce(c.forgotten_at, clock_timestamp())
   WHERE c.customer_id = forget_customer.customer_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'no_data_found';
  END IF;
  UPDATE cartera.alert a
     SET message = format('%s (customer %s, personal data erased)', a.kind, a.customer_id), detail = NULL,
         resolution = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed') THEN 'customer data erased'
                           WHEN a.resolution IS NOT NULL THEN 'erased' END,
         status = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed') THEN 'dismissed' ELSE a.status END,
         snoozed_until = NULL,
         closed_at = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed') THEN clock_timestamp() ELSE a.closed_at END
   WHERE a.customer_id = forget_customer.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  erased := erased || jsonb_build_object('alerts', n);
  -- the notes in the alerts' history (who did what and when stays)
  UPDATE cartera.alert_event e SET note = 'erased'
    FROM cartera.alert a
   WHERE a.alert_id = e.alert_id AND a.customer_id = forget_customer.customer_id AND e.note IS NOT NULL
     AND e.note <> 'erased';
  GET DIAGNOSTICS n = ROW_COUNT;
  erased := erased || jsonb_build_object('alert_notes', n);
  UPDATE cartera.interaction i SET need = NULL, note = NULL
   WHERE i.customer_id = forget_customer.customer_id AND (i.need IS NOT NULL OR i.note IS NOT NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  erased := erased || jsonb_build_object('interactions', n);
  UPDATE cartera.customer_merge m
     SET dropped_row = jsonb_build_object('customer_id', m.dropped_row -> 'customer_id', 'erased', true)
   WHERE m.keep_id = forget_customer.customer_id OR m.drop_id = forget_customer.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  erased := erased || jsonb_build_object('merge_records', n);
  RETURN jsonb_build_object('customer_id', customer_id) || erased;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.forget_customer(bigint) FROM PUBLIC;
COMMENT ON FUNCTION cartera.forget_customer(bigint) IS
  'erasure request: remove a customer''s personal data from the registry, alert messages, interaction notes and merge records, keeping the anonymous facts (purchases, states, history); returns what was erased';

CREATE OR REPLACE FUNCTION cartera.grant_columns(privilege text, tab regclass, grantee regrole, excluded name[] DEFAULT '{}')
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  cols text;
BEGIN
  IF privilege NOT IN ('INSERT', 'UPDATE') THEN
    RAISE EXCEPTION 'privilege must be INSERT or UPDATE, not %', privilege USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = tab AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attidentity = '' AND a.attname <> ALL (excluded);
  EXECUTE format('REVOKE %s ON %s FROM %s', privilege, tab, grantee);
  EXECUTE format('GRANT %s (%s) ON %s TO %s', privilege, cols, tab, grantee);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_columns(text, regclass, regrole, name[]) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_columns(text, regclass, regrole, name[]) IS
  'grant INSERT or UPDATE on every column of a table except its identity columns and the excluded ones (used by the grant helpers: ids are assigned by cartera only)';

CREATE OR REPLACE FUNCTION cartera.set_session_defaults(grantee regrole) RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
  owner oid := (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = 'cartera.customer'::pg_catalog.regclass);
  r record;
  n bigint := 0;
BEGIN
  IF grantee IS NULL THEN
    RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  FOR r IN SELECT a.rolname,
                  coalesce(pg_catalog.pg_has_role(a.oid, manager, 'USAGE'), false) AS is_manager
             FROM pg_catalog.pg_roles a
            WHERE (a.oid = grantee OR (a.rolcanlogin AND pg_catalog.pg_has_role(a.oid, grantee, 'MEMBER')))
              AND NOT a.rolsuper AND a.oid <> owner
            ORDER BY a.rolname LOOP
    EXECUTE format('ALTER ROLE %I SET lock_timeout = %L', r.rolname, CASE WHEN r.is_manager THEN '30s' ELSE '5s' END);
    EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r.rolname,
                   CASE WHEN r.is_manager THEN '10min' ELSE '60s' END);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.set_session_defaults(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.set_session_defaults(regrole) IS
  'set lock_timeout and idle_in_transaction_session_timeout (agents 5s and 60s, members of cartera_manager 30s and 10min) on a role and its login members; called by grant_agent_role(); returns the roles set';

CREATE OR REPLACE FUNCTION cartera.grant_agent_role(grantee regrole) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  v regclass;
BEGIN
  IF grantee IS NULL THEN
    RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- row-level security is off while a restore runs: only managers (who see
  -- everything anyway) get privileges then
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                  WHERE r.rolname = 'cartera_manager' AND pg_catalog.pg_has_role(grantee, r.oid, 'USAGE')) THEN
    PERFORM cartera.refuse_while_restoring(format('granting agent privileges to %s', grantee));
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA cartera TO %s', grantee);
  -- the portfolio: row-level security keeps it to the agent's own rows
  -- (ids and the erasure mark are never an agent's to write)
  EXECUTE format('GRANT SELECT ON cartera.customer TO %s', grantee);
  PERFORM cartera.grant_columns('INSERT', 'cartera.customer', grantee, '{forgotten_at}');
  PERFORM cartera.grant_columns('UPDATE', 'cartera.customer', grantee, '{forgotten_at}');
  EXECUTE format('GRANT SELECT, DELETE ON cartera.purchase, cartera.interaction TO %s', grantee);
  PERFORM cartera.grant_columns('INSERT', 'cartera.purchase', grantee);
  PERFORM cartera.grant_columns('UPDATE', 'cartera.purchase', grantee);
  PERFORM cartera.grant_columns('INSERT', 'cartera.interaction', grantee);
  PERFORM cartera.grant_columns('UPDATE', 'cartera.interaction', grantee);
  -- alerts are raised by the system; agents only move them along (and hand
  -- them over); their history is written by cartera alone
  EXECUTE format('GRANT SELECT, UPDATE (status, snoozed_until, closed_at, resolution, outcome, agent_id) '
                 'ON cartera.alert TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.alert_event TO %s', grantee);
  -- the deferred queue (row-level security) and its totals; applying it is
  -- maintenance, the owner's (the worker, pg_cron)
  EXECUTE format('GRANT SELECT ON cartera.deferred_change, cartera.deferred_failure, cartera.deferred_run TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.customer_state, cartera.status_transition, cartera.agent, '
                 'cartera.agent_target TO %s', grantee);
  -- configuration and the portfolio-wide model (no customer data)
  EXECUTE format('GRANT SELECT ON cartera.segment_map, cartera.occasion, cartera.cross_sell_rule, '
                 'cartera.alert_kind, cartera.portfolio_model, cartera.portfolio_setting, cartera.model_history, '
                 'cartera.shard_number TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.alert_set_status(bigint, text, date, text), '
                 'cartera.acknowledge_alert(bigint), cartera.complete_alert(bigint, text), '
                 'cartera.snooze_alert(bigint, date), cartera.dismiss_alert(bigint, text), '
                 'cartera.lock_open_alert(bigint), cartera.record_outcome(bigint, text, text), '
                 'cartera.handover_alert(bigint, bigint, text) TO %s', grantee);
  -- the BI views (security_invoker: they show what the tables show the agent;
  -- a materialized view would ignore row-level security, so none is granted)
  FOR v IN SELECT c.oid FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'v'
            ORDER BY c.relname LOOP
    EXECUTE format('GRANT SELECT ON %s TO %s', v, grantee);
  END LOOP;
  -- lock_timeout and idle_in_transaction_session_timeout (see above)
  PERFORM cartera.set_session_defaults(grantee);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_agent_role(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_agent_role(regrole) IS
  'grant a (group) role what an agent needs: own portfolio tables (row-level security), views, alert actions; nothing that runs maintenance; and set the session defaults (lock and idle timeouts) of the role and its login members';

CREATE OR REPLACE FUNCTION cartera.grant_manager_role(grantee regrole) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
BEGIN
  IF grantee IS NULL THEN
    RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF manager IS NULL THEN
    RAISE EXCEPTION 'role "cartera_manager" does not exist'
      USING ERRCODE = 'undefined_object',
            DETAIL = 'Row-level security shows every portfolio to members of cartera_manager only.',
            HINT = 'CREATE ROLE cartera_manager NOLOGIN; then SELECT cartera.grant_manager_role(''cartera_manager'');';
  END IF;
  IF NOT pg_catalog.pg_has_role(grantee, manager, 'USAGE') THEN
    RAISE EXCEPTION 'role % is not a member of cartera_manager', grantee
      USING ERRCODE = 'invalid_grant_operation',
            DETAIL = 'Row-level security would show it no portfolio.',
            HINT = format('GRANT cartera_manager TO %s;', grantee);
  END IF;
  PERFORM cartera.grant_agent_role(grantee);
  EXECUTE format('GRANT SELECT, DELETE ON cartera.agent, cartera.agent_target, cartera.customer, '
                 'cartera.purchase, cartera.interaction, cartera.alert, cartera.segment_map, cartera.occasion, '
                 'cartera.cross_sell_rule, cartera.alert_kind, cartera.portfolio_setting TO %s', grantee);
  -- every column but the ids (cartera assigns them)
  PERFORM cartera.grant_columns(p, t, grantee)
     FROM unnest(ARRAY['INSERT', 'UPDATE']) p,
          unnest(ARRAY['cartera.agent', 'cartera.agent_target', 'cartera.customer', 'cartera.purchase',
                       'cartera.interaction', 'cartera.alert', 'cartera.segment_map', 'cartera.occasion',
                       'cartera.cross_sell_rule', 'cartera.alert_kind', 'cartera.portfolio_setting']::regclass[]) t;
  -- erasure requests (cartera.forget_customer runs as its caller)
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.forget_customer(bigint) TO %s', grantee);
  -- which reaches the notes in the alerts' history, and merges
  -- (cartera.merge_customers, as its caller) move the history's customer
  EXECUTE format('GRANT UPDATE (note, customer_id) ON cartera.alert_event TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.purchase_source TO %s', grantee);
  -- the coordinator's list of shards (foreign server names): a manager's dump holds it
  EXECUTE format('GRANT SELECT ON cartera.shard TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.assign_owner(bigint, boolean) TO %s', grantee);
  -- merging duplicates (cartera.merge_customers runs as its caller): the
  -- audit log, moving the history and the alert cool-down of the duplicate
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.merge_customers(bigint, bigint) TO %s', grantee);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE (keep_id, dropped_row) ON cartera.customer_merge TO %s', grantee);
  EXECUTE format('GRANT UPDATE (customer_id), DELETE ON cartera.status_transition TO %s', grantee);
  EXECUTE format('GRANT UPDATE (last_alert_at) ON cartera.customer_state TO %s', grantee);
  -- backups (docs/data-model.md#backups): pg_dump reads every table it
  -- dumps and the identity sequences; pre_restore() and post_restore()
  -- frame a restore into a new database
  EXECUTE format('GRANT SELECT ON cartera.customer_merge, cartera.restore_in_progress TO %s', grantee);
  EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA cartera TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.pre_restore(), cartera.post_restore() TO %s', grantee);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_manager_role(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_manager_role(regrole) IS
  'grant cartera_manager (or a member of it) what a manager needs: every portfolio, agents, targets, configuration, lead assignment, merging duplicates, erasure requests, pg_dump and pre_restore()/post_restore()';

CREATE OR REPLACE FUNCTION cartera.lock_open_alert(alert_id bigint) RETURNS cartera.alert
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  a cartera.alert;
BEGIN
  SELECT * INTO a FROM cartera.alert x WHERE x.alert_id = lock_open_alert.alert_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'alert % does not exist', alert_id USING ERRCODE = 'no_data_found';
  END IF;
  IF a.status IN ('done', 'dismissed', 'moot', 'held_out') THEN
    RAISE EXCEPTION 'alert % is already %', alert_id, a.status
      USING ERRCODE = 'invalid_parameter_value',
            HINT = CASE WHEN a.status = 'held_out' THEN 'A held-out alert measures what happens without a contact: it is never worked.'
                        ELSE 'Closed alerts stay closed; a new situation raises a new alert.' END;
  END IF;
  RETURN a;
END
$fn$;
COMMENT ON FUNCTION cartera.lock_open_alert(bigint) IS
  'lock and return an alert that is still to do (open, acknowledged, snoozed), as the caller sees it; P0002 when it does not exist or is not the caller''s, 22023 when closed';
REVOKE EXECUTE ON FUNCTION cartera.lock_open_alert(bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION cartera.alert_set_status(alert_id bigint, new_status text, until date DEFAULT NULL,
                                         resolution text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF new_status IS NULL OR new_status NOT IN ('open', 'acknowledged', 'snoozed', 'done', 'dismissed') THEN
    RAISE EXCEPTION 'an alert cannot be set to status %', coalesce(new_status, 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use open, acknowledged (in progress), snoozed, done or dismissed.';
  END IF;
  PERFORM cartera.lock_open_alert(alert_id);
  IF new_status = 'snoozed' AND (until IS NULL OR until <= current_date) THEN
    RAISE EXCEPTION 'snooze needs a date after today, not %', coalesce(until::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- the row is written WHERE CURRENT OF a cursor: an UPDATE that reads the
  -- table (WHERE alert_id = ...) must leave a row its writer still sees, and
  -- the agent an alert was handed to no longer sees it once it is closed
  DECLARE
    target CURSOR FOR SELECT x.resolution FROM cartera.alert x WHERE x.alert_id = alert_set_status.alert_id FOR UPDATE;
    was text;
  BEGIN
    OPEN target;
    FETCH target INTO was;
    UPDATE cartera.alert
       SET status = new_status,
           snoozed_until = CASE WHEN new_status = 'snoozed' THEN until END,
           closed_at = CASE WHEN new_status IN ('done', 'dismissed') THEN clock_timestamp() END,
           resolution = coalesce(alert_set_status.resolution, was)
     WHERE CURRENT OF target;
    CLOSE target;
  END;
  RETURN new_status;
END
$fn$;
COMMENT ON FUNCTION cartera.alert_set_status(bigint, text, date, text) IS 'move an alert to a new status (used by the acknowledge/complete/snooze/dismiss functions)';
REVOKE EXECUTE ON FUNCTION cartera.alert_set_status(bigint, text, date, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION cartera.record_outcome(alert_id bigint, outcome text, note text DEFAULT NULL) RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  PERFORM cartera.lock_open_alert(alert_id);
  IF outcome IS NULL OR outcome NOT IN ('reached', 'no_answer', 'won_back', 'declined', 'wrong_contact_data',
                                        'do_not_contact', 'other') THEN
    RAISE EXCEPTION 'unknown outcome %', coalesce(outcome, 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use reached, no_answer, won_back, declined, wrong_contact_data, do_not_contact or other.';
  END IF;
  -- WHERE CURRENT OF, as in alert_set_status: the alert may be one handed
  -- over to the caller, who no longer sees it once it is done
  DECLARE
    target CURSOR FOR SELECT x.resolution FROM cartera.alert x WHERE x.alert_id = record_outcome.alert_id FOR UPDATE;
    was text;
  BEGIN
    OPEN target;
    FETCH target INTO was;
    UPDATE cartera.alert
       SET status = 'done', outcome = record_outcome.outcome, snoozed_until = NULL, closed_at = clock_timestamp(),
           resolution = coalesce(record_outcome.note, was)
     WHERE CURRENT OF target;
    CLOSE target;
  END;
  RETURN 'done';
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.record_outcome(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.record_outcome(bigint, text, text) IS
  'the alert was worked: done, with its outcome (reached, no_answer, won_back, declined, wrong_contact_data, do_not_contact, other) and a note';

CREATE OR REPLACE FUNCTION cartera.handover_alert(alert_id bigint, to_agent bigint, note text DEFAULT NULL) RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  a cartera.alert := cartera.lock_open_alert(alert_id);
BEGIN
  IF to_agent IS NULL THEN
    RAISE EXCEPTION 'an agent to hand the alert over to is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF a.agent_id IS NOT DISTINCT FROM to_agent THEN
    RAISE EXCEPTION 'alert % is already agent %''s', alert_id, to_agent USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM cartera.agent g WHERE g.agent_id = to_agent AND NOT g.active) THEN
    RAISE EXCEPTION 'agent % is not active', to_agent
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Hand the alert over to an active agent.';
  END IF;
  BEGIN
    UPDATE cartera.alert x
       SET agent_id = to_agent, resolution = coalesce(handover_alert.note, x.resolution)
     WHERE x.alert_id = handover_alert.alert_id;
  EXCEPTION WHEN foreign_key_violation THEN
    RAISE EXCEPTION 'agent % does not exist', to_agent USING ERRCODE = 'no_data_found';
  END;
  RETURN to_agent;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.handover_alert(bigint, bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.handover_alert(bigint, bigint, text) IS
  'give an alert still to do to another agent, with a note; the customer''s owner keeps seeing it';

CREATE OR REPLACE FUNCTION cartera.state_update_sql(fresh text, result text, queue text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT format($q$
    WITH %s fresh AS (%s),
    summarised AS (
      SELECT f.customer_id, cartera.rfm_state_summary(f.state) AS summary,
             CASE WHEN f.complete THEN f.state END AS state
        FROM fresh f),
    scored AS (
      SELECT f.customer_id, f.summary, f.state,
             cartera.lifecycle_status(f.summary, $2) AS status,
             CASE WHEN m.recency_breaks IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.rfm_segment(f.summary, m.recency_breaks, m.frequency_breaks, m.monetary_breaks) END AS segment,
             cartera.clv(f.summary, $3) AS clv,
             -- the transaction model refresh() chose (portfolio_model.transaction_model)
             CASE WHEN (f.summary).purchases > 0 THEN
               CASE m.transaction_model
                 WHEN 'pareto_nbd' THEN cartera.p_alive(m.pareto_nbd, f.summary, (m.pareto_nbd).time_unit)
                 WHEN 'mbgnbd' THEN cartera.p_alive(m.mbgnbd, f.summary, (m.mbgnbd).time_unit)
                 WHEN 'bgnbd' THEN cartera.p_alive(m.bgnbd, f.summary, (m.bgnbd).time_unit) END END AS p_alive,
             CASE WHEN (f.summary).purchases > 0 THEN
               CASE m.transaction_model
                 WHEN 'pareto_nbd' THEN cartera.expected_purchases(m.pareto_nbd, CASE (m.pareto_nbd).time_unit WHEN 'weeks' THEN 52 ELSE 364 END,
                                                                   f.summary, (m.pareto_nbd).time_unit)
                 WHEN 'mbgnbd' THEN cartera.expected_purchases(m.mbgnbd, CASE (m.mbgnbd).time_unit WHEN 'weeks' THEN 52 ELSE 364 END,
                                                               f.summary, (m.mbgnbd).time_unit)
                 WHEN 'bgnbd' THEN cartera.expected_purchases(m.bgnbd, CASE (m.bgnbd).time_unit WHEN 'weeks' THEN 52 ELSE 364 END,
                                                              f.summary, (m.bgnbd).time_unit) END END AS expected_12m,
             CASE WHEN m.gamma_gamma IS NOT NULL AND (f.summary).purchases > 0 THEN
               CASE m.transaction_model
                 WHEN 'pareto_nbd' THEN cartera.clv_predicted(m.pareto_nbd, m.gamma_gamma, f.summary, (m.pareto_nbd).time_unit, 12, 0.01, month)
                 WHEN 'mbgnbd' THEN cartera.clv_predicted(m.mbgnbd, m.gamma_gamma, f.summary, (m.mbgnbd).time_unit, 12, 0.01, month)
                 WHEN 'bgnbd' THEN cartera.clv_predicted(m.bgnbd, m.gamma_gamma, f.summary, (m.bgnbd).time_unit, 12, 0.01, month) END END AS clv_12m
        FROM summarised f LEFT JOIN cartera.portfolio_model m ON true
             -- the month of the 12-month CLV (portfolio setting cartera.clv_month)
             CROSS JOIN (SELECT pg_catalog.current_setting('cartera.clv_month')::interval AS month) cm),
    -- the states before this statement (its snapshot), computed once: inlined
    -- into logged, it was planned as a nested loop that scanned all of fresh
    -- again for every upserted row, quadratic in a batch (100 of the 126 ms
    -- of a deferred batch of 1,000 customers)
    old AS MATERIALIZED (
      SELECT s.customer_id, s.status AS old_status, s.segment AS old_segment
        FROM cartera.customer_state s JOIN fresh f USING (customer_id)),
    upserted AS (
      INSERT INTO cartera.customer_state AS s
             (customer_id, summary, status, segment, clv, p_alive, expected_purchases_12m, clv_predicted_12m,
              updated_at, rfm_state)
      SELECT customer_id, summary, status, segment, clv, p_alive, expected_12m, clv_12m, clock_timestamp(), state
        FROM scored
      ON CONFLICT (customer_id) DO UPDATE
         SET summary = excluded.summary, status = excluded.status, segment = excluded.segment,
             clv = excluded.clv, p_alive = excluded.p_alive,
             expected_purchases_12m = excluded.expected_purchases_12m,
             clv_predicted_12m = excluded.clv_predicted_12m, updated_at = excluded.updated_at,
             rfm_state = excluded.rfm_state
      RETURNING s.customer_id, s.status, s.segment),
    logged AS (
      INSERT INTO cartera.status_transition (customer_id, changed_at, from_status, to_status, from_segment, to_segment)
      SELECT u.customer_id, $2, o.old_status, u.status, o.old_segment, u.segment
        FROM upserted u LEFT JOIN old o USING (customer_id)
       WHERE o.customer_id IS NULL
          OR o.old_status IS DISTINCT FROM u.status
          OR o.old_segment IS DISTINCT FROM u.segment
      RETURNING customer_id, from_status, to_status, from_segment, to_segment)
    %s$q$, coalesce(queue || ',', ''), fresh, result)
$fn$;
COMMENT ON FUNCTION cartera.state_update_sql(text, text, text) IS
  'the SQL text that scores (status, segment, CLV, predictions) and stores customer states given by a query of (customer_id, state, complete), logging transitions; queue: CTEs on the deferred queue run in the same statement';

CREATE OR REPLACE FUNCTION cartera.state_update_sql(fresh text, result text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$ SELECT cartera.state_update_sql(fresh, result, NULL) $fn$;
COMMENT ON FUNCTION cartera.state_update_sql(text, text) IS
  'the SQL text that scores (status, segment, CLV, predictions) and stores customer states given by a query of (customer_id, state, complete), logging transitions';

CREATE OR REPLACE FUNCTION cartera.calibration_holdout(purchases regclass, customer_column name,
                                            purchased_at_column name,
                                            calibration_end date, holdout_end date,
                                            time_unit text DEFAULT 'weeks')
  RETURNS TABLE (customer text, frequency integer, t_x double precision, "T" double precision,
                 predicted double precision, actual bigint)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := CASE lower(time_unit) WHEN 'days' THEN 1 WHEN 'weeks' THEN 7 END;
BEGIN
  IF unit_days IS NULL THEN
    RAISE EXCEPTION 'time unit must be "days" or "weeks", not "%"', time_unit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = purchases
                   AND a.attname = customer_column AND a.attnum > 0 AND NOT a.attisdropped) THEN
    RAISE EXCEPTION 'column "%" does not exist in %', customer_column, purchases
      USING ERRCODE = 'undefined_column';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = purchases
                   AND a.attname = purchased_at_column AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.atttypid IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)) THEN
    RAISE EXCEPTION 'column "%" of % must exist and be a date, timestamp or timestamptz',
                    purchased_at_column, purchases
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF holdout_end <= calibration_end THEN
    RAISE EXCEPTION 'holdout_end must be after calibration_end, not % <= %', holdout_end, calibration_end
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- the checks above stay here (the errors of 0.3.0, their CONTEXT included);
  -- the work is the model-generic overload's (sql/cartera_models.sql)
  RETURN QUERY
  SELECT * FROM cartera.calibration_holdout(purchases, customer_column, purchased_at_column,
                                            calibration_end, holdout_end, time_unit, 'bgnbd');
END
$fn$;
COMMENT ON FUNCTION cartera.calibration_holdout(regclass, name, name, date, date, text) IS
  'fit BG/NBD on purchases up to calibration_end and compare, per customer, predicted and actual repeat purchase days in the holdout up to holdout_end';

CREATE OR REPLACE FUNCTION cartera.calibration_holdout_summary(purchases regclass, customer_column name,
                                                    purchased_at_column name,
                                                    calibration_end date, holdout_end date,
                                                    time_unit text DEFAULT 'weeks',
                                                    max_frequency integer DEFAULT 7)
  RETURNS TABLE (frequency integer, customers bigint, actual_mean double precision,
                 predicted_mean double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN QUERY
  SELECT * FROM cartera.calibration_holdout_summary(purchases, customer_column, purchased_at_column,
                                                    calibration_end, holdout_end, time_unit,
                                                    max_frequency, 'bgnbd');
END
$fn$;
COMMENT ON FUNCTION cartera.calibration_holdout_summary(regclass, name, name, date, date, text, integer) IS
  'mean actual vs predicted holdout purchases by calibration frequency (the last bucket is max_frequency or more)';

CREATE OR REPLACE FUNCTION cartera.schedule(cron text DEFAULT '0 7 * * *') RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  job bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'cartera.schedule() registers cartera.run_followups() as a pg_cron job.',
            HINT = 'Install pg_cron (shared_preload_libraries = ''pg_cron'', then CREATE EXTENSION pg_cron), or call cartera.run_followups() daily from another scheduler.';
  END IF;
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'cartera-followups', cron, 'SELECT * FROM cartera.run_followups()';
  -- the deferred queue, where no background worker applies it (every
  -- minute: pg_cron's finest schedule before 1.5; a no-op on an empty queue)
  EXECUTE 'SELECT cron.schedule($1, $2, $3)'
    USING 'cartera-catch-up', '* * * * *', 'SELECT * FROM cartera.catch_up()';
  RETURN job;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.schedule(text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.schedule(text) IS 'register cartera.run_followups() as the pg_cron job "cartera-followups" (daily at 07:00 by default) and cartera.catch_up() as "cartera-catch-up" (every minute: the deferred queue where no worker runs)';
-- END functions

------------------------------------------------------------------------------
-- 3. New triggers
------------------------------------------------------------------------------
CREATE TRIGGER customer_id_fixed BEFORE UPDATE OF customer_id ON cartera.customer
  FOR EACH ROW EXECUTE FUNCTION cartera.customer_id_fixed();
CREATE TRIGGER customer_owner_changed AFTER UPDATE ON cartera.customer
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.customer_owner_changed();

------------------------------------------------------------------------------
-- 4. Data
------------------------------------------------------------------------------
-- the values this database used so far (ALTER DATABASE / postgresql.conf,
-- as the upgrading session sees them) become the portfolio's, so that the
-- upgrade changes nothing that is stored; TimeZone stays the session's
INSERT INTO cartera.portfolio_setting (name, value)
  SELECT s.name, pg_catalog.current_setting(s.name, true)
    FROM cartera.portfolio_settings s
   WHERE s.name LIKE 'cartera.%'
     AND pg_catalog.current_setting(s.name, true) IS NOT NULL
     AND pg_catalog.current_setting(s.name, true) IS DISTINCT FROM s.default_value;
-- a deleted customer's history goes with them from 0.4.0 on: what earlier
-- deletions left behind is removed now
DELETE FROM cartera.status_transition t
 WHERE NOT EXISTS (SELECT 1 FROM cartera.customer c WHERE c.customer_id = t.customer_id);
-- the alerts' history starts with what 0.3.0 kept of them: when each was
-- raised and, for the closed ones, when and how it was closed
INSERT INTO cartera.alert_event (alert_id, happened_at, actor, event, to_value, note)
  SELECT x.alert_id, x.at, current_user, x.event, x.to_value, x.note
    FROM (SELECT a.alert_id, a.raised_at AS at, 'raised' AS event, 'open' AS to_value,
                 'recorded by the upgrade to 0.4.0' AS note, 1 AS nth
            FROM cartera.alert a
          UNION ALL
          SELECT a.alert_id, a.closed_at, a.status, a.status, a.resolution, 2
            FROM cartera.alert a WHERE a.status IN ('done', 'dismissed') AND a.closed_at IS NOT NULL) x
   ORDER BY x.alert_id, x.nth;
-- the id sequence passes every id given explicitly so far
SELECT pg_catalog.setval('cartera.customer_customer_id_seq', x.m)
  FROM (SELECT max(customer_id) AS m FROM cartera.customer) x
 WHERE x.m > (SELECT CASE WHEN q.is_called THEN q.last_value ELSE q.last_value - 1 END FROM cartera.customer_customer_id_seq q);

-- The roles the grant helpers were run for get this version's grants now
-- (column-level INSERT/UPDATE without the ids, the new tables and functions,
-- session defaults): every role holding SELECT on customer_state, which only
-- the helpers grant.
DO $upgrade$
DECLARE
  r regrole;
BEGIN
  FOR r IN SELECT DISTINCT a.grantee::regrole
             FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
            WHERE c.oid = 'cartera.customer_state'::regclass AND a.privilege_type = 'SELECT'
              AND a.grantee <> c.relowner AND a.grantee <> 0
            ORDER BY 1 LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles m WHERE m.rolname = 'cartera_manager'
                 AND pg_catalog.pg_has_role(r, m.oid, 'USAGE')) THEN
      PERFORM cartera.grant_manager_role(r);
    ELSE
      PERFORM cartera.grant_agent_role(r);
    END IF;
  END LOOP;
END
$upgrade$;
