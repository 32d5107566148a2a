"""Manifest changes: the approval gate's workflow, intake and HTTP API.

The verdict itself comes from gate/ (pure, shared with `manage.py gate`); this package stores it,
applies the four-eyes rules of clusters.approvals.gate.workflow, audits every decision, and answers the module
update (clusters.approvals.update_check) about modules whose latest change is not approved.

- intake.py    an upload, a host folder or an API archive -> verdict + parsed manifests (temp files only)
- services.py  submit / approve / reject / override: one transaction and one audit event each
- tokens.py    API tokens: shown once, stored as sha256, revocable, acting with their user's role
- views.py, api.py, forms.py, urls.py  pages and the JSON endpoint
"""
