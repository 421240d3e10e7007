"""The Telegram transport: `kompas telegram`.

- `settings`: transport options and token checks (Dutch messages for the operator);
- `network`: HTTP with retries for 5xx/timeouts, and token redaction in logs;
- `translate`: pure translation of Telegram updates to engine events and of engine replies
  to Telegram actions (keyboards, ForceReply, message splitting);
- `handlers`: the thin PTB handlers that run one engine turn and deliver its actions;
- `runner`: the idempotent polling loop and the webhook server around the same processing;
- `menu`: the command menus per scope.
"""
