"""A job's log, from the process that writes it to the browser that shows it.

store: lines written in batches to PostgreSQL (the record) and to a Redis stream (the live edge).
read: a reader's cursor over both (`manage.py job follow`). sse: the same as server-sent events for
the job page. html: a line as the page's markup. follow: a Swarm service's output followed into a
job's log. text: every line cleaned once, where it enters.
"""
