-- The stand-in's base neutralization, with the effects of Odoo 19's base/data/neutralize.sql on the
-- stand-in's tables: every outgoing mail server off, then one active dummy server on host `invalid`
-- (so a server given on the command line is never used either); every cron off but the autovacuum;
-- the database flagged as neutralized; webhook server actions pointed nowhere.
UPDATE ir_mail_server SET active = false;
INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, smtp_authentication, active)
     VALUES ('neutralization - disable emails', 'invalid', 1025, 'none', 'login', true);
UPDATE ir_cron SET active = false
 WHERE id NOT IN (SELECT res_id FROM ir_model_data
                   WHERE module = 'base' AND name = 'autovacuum_job' AND model = 'ir.cron');
INSERT INTO ir_config_parameter (key, value) VALUES ('database.is_neutralized', 'true')
    ON CONFLICT (key) DO UPDATE SET value = 'true';
UPDATE ir_act_server SET webhook_url = 'neutralization - disable webhook' WHERE state = 'webhook';
