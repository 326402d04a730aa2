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
-- Pareto/NBD and MBG/NBD (src/pareto_nbd.c, src/mbgnbd.c, src/model_sql.c)
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- BG/BB: discrete-time opportunities (src/bgbb.c, src/bgbb_sql.c)
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- shifted-beta-geometric: contractual retention (src/sbg.c, src/sbg_sql.c)
------------------------------------------------------------------------------
