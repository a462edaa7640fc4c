"""Delivery: scheduled subscriptions rendered and sent by email (docs/subscriptions.md).

`mail` builds the message, `smtp` sends it, `claims` makes each scheduled run claimable once,
`scheduler` is the loop that finds due runs, renders them through an injected function, sends
them and records the outcome through the command handler.
"""
