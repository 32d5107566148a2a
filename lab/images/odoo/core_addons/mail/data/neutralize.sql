-- The stand-in's mail neutralization (Odoo 19's mail/data/neutralize.sql, on the stand-in's tables):
-- templates forget their mail server, incoming mail servers are switched off.
UPDATE mail_template SET mail_server_id = NULL;
UPDATE fetchmail_server SET active = false;
