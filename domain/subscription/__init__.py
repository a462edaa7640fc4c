"""The Subscription aggregate: a report (or some of its pages) emailed on a cron schedule in a
time zone, and the record of every scheduled run (docs/subscriptions.md)."""
