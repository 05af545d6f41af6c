"""The console: a read-only web application over the decision log, the inventory, the
evidence and the policy (README "The console"). A front door beside the webhook and the
auditor: it reads what they write and changes nothing."""
