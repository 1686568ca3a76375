"""Intake: stores ideas from every channel, gives each a reference and a status link.

Channels: the HTTP API (`api.py`), the web form and status pages (`web.py`), email by SMTP
(`smtp.py`) or a shared IMAP mailbox (`imap.py`), both through `mail.py`, and CSV import
(`importer.py`). Every one of them ends in `handlers.submit_idea`, so an idea is the same record,
with the same acknowledgement, whichever way it came.

Owns: ideas (creation), attachments, the submitter's answers and notes, inbound mail, withdrawal.
Emits: idea.received.v1; idea.status_changed.v1 on withdrawal and when an answer returns an idea to
review; mail.refused.v1 when an email cannot become an idea.
Consumes: nothing; it is the start of the pipeline.
"""
