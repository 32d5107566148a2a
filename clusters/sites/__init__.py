"""What the panel does to a site: each kind of work a job runs, with the docker code it needs.

deploy (and reconcile, domain), scale, modules (reading ir_module_module), module_update/,
backups/, quiet (the jobs that hold a site at 0 replicas), client (the engine for a job, and its
undo actions), the one-off reads of its image (image_check, checksums), inspection (the site as it
is live) and actions (the buttons and commands that start the jobs).
"""
