"""Call detail records (CSV or JSON exported by a PBX) turned into call events.

No ``odoo`` import. ``parse_cdr`` reads a whole file and returns the good
records with their events and the bad ones with their line numbers; the
wizard (``crm.interaction.cdr.import``) ingests the good ones through the
same path as the inbound API, so importing a file twice changes nothing.

Accepted files:

- CSV with a header row (``,``, ``;`` or tab separated, UTF-8): the columns
  below, under any of their names (Asterisk's CDR variables, FreePBX's
  ``cdr`` table, common export names);
- Asterisk's ``Master.csv`` (``cdr_csv``, no header) written with
  ``loguniqueid = yes``;
- JSON: a list of objects with the same keys (or ``{"records": [...]}``),
  or JSON Lines (one object per line).

>>> result = parse_cdr(b"call_id,start,from,status,billsec\\n"
...                    b"c1,2026-06-01 09:00:00,+3225551234,ANSWERED,62\\n"
...                    b"c2,yesterday,+3225551234,NO ANSWER,0\\n"
...                    b"c1,2026-06-01 09:00:00,+3225551234,ANSWERED,62\\n", "calls.csv")
>>> [(r.line, [e["event"] for e in r.events]) for r in result.records]
[(2, ['call.answered', 'call.ended'])]
>>> result.errors
[(3, 'start: not a date and time (ISO 8601 or YYYY-MM-DD HH:MM:SS)'), (4, 'call c1 is already on line 2')]
"""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .events import EventError, parse_event
from .pbx import channel_endpoint

# column: its accepted names (compared lower-case, spaces and dashes as "_")
COLUMNS = {
    "call_id": ("call_id", "callid", "linkedid", "uniqueid", "call_sid", "callsid", "sid", "id"),
    "start": ("start", "calldate", "start_time", "starttime", "date", "timestamp", "started_at"),
    "end": ("end", "end_time", "endtime", "ended_at"),
    "direction": ("direction", "call_direction"),
    "from": ("from", "src", "caller", "caller_number", "from_number", "cnum", "source"),
    "to": ("to", "dst", "callee", "called", "to_number", "destination"),
    "name": ("name", "cnam", "caller_name", "callername"),
    "clid": ("clid", "callerid"),
    "agent": ("agent", "agent_login", "login", "user"),
    "agent_channel": ("dstchannel", "agent_channel"),
    "talk_seconds": ("billsec", "talk_time", "talktime", "billable_seconds"),
    "duration": ("duration", "call_duration", "callduration"),
    "status": ("status", "disposition", "call_status", "callstatus", "result"),
    "recording_url": ("recording_url", "recordingurl", "recording"),
}
_ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}
# cdr_csv's Master.csv, in order (the uniqueid needs loguniqueid = yes in cdr.conf)
ASTERISK_MASTER_CSV = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield",
)  # fmt: skip
ANSWERED = {"answered", "answer", "completed", "complete", "in-progress", "done", "ok"}
MISSED = {
    "no answer", "no-answer", "noanswer", "missed", "busy", "failed", "congestion",
    "canceled", "cancelled", "cancel", "chanunavail", "abandoned", "unanswered",
}  # fmt: skip
MAX_RECORDS = 100_000
# a larger export is split (a day or a month per file): read whole in memory
MAX_FILE_BYTES = 32 * 1024 * 1024


class Record(NamedTuple):
    line: int
    call_id: str
    events: list


class CdrResult(NamedTuple):
    records: list  # [Record]
    errors: list  # [(line, message)]
    unit: str  # "line" or "record" (position in a JSON list)


def _key(name):
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _timestamp(value, tz, column):
    value = (value or "").strip()
    if not value:
        raise EventError("missing_field", "this field is required", column)
    try:
        stamp = datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise EventError(
            "invalid_field", "not a date and time (ISO 8601 or YYYY-MM-DD HH:MM:SS)", column
        ) from None
    if not stamp.tzinfo:
        stamp = stamp.replace(tzinfo=tz)
    return stamp.astimezone(UTC)


def _seconds(value, column):
    value = "" if value is None else str(value).strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise EventError("invalid_field", "must be a number of seconds", column) from None
    if not 0 <= seconds < 2**31:
        raise EventError("invalid_field", "must be a non-negative number of seconds", column)
    return round(seconds)


def _clid_name(clid):
    """The name in an Asterisk caller id ``"Alice" <3225551234>``."""
    if not clid or "<" not in clid:
        return None
    return clid.split("<", 1)[0].strip().strip('"').strip() or None


def record_events(row, channel, tz=UTC):
    """The events of one CDR (``row``: column → text, columns as in ``COLUMNS``):
    an answered call is ``call.answered`` then ``call.ended`` with the talk
    time; any other is ``call.missed``. Raises ``EventError``."""
    call_id = (row.get("call_id") or "").strip()
    if not call_id:
        raise EventError("missing_field", "this field is required", "call_id")
    start = _timestamp(row.get("start"), tz, "start")
    end = _timestamp(row["end"], tz, "end") if (row.get("end") or "").strip() else None
    talk = _seconds(row.get("talk_seconds"), "billsec")
    total = _seconds(row.get("duration"), "duration")
    status = (row.get("status") or "").strip().lower()
    if status in ANSWERED or (not status and (talk or 0) > 0):
        answered = True
    elif status in MISSED or not status:
        answered = False
    else:
        raise EventError("invalid_field", f"unknown call status {status!r}", "status")
    direction = (row.get("direction") or "inbound").strip().lower()
    direction = {"in": "inbound", "incoming": "inbound", "out": "outbound"}.get(
        direction, {"outgoing": "outbound"}.get(direction, direction)
    )
    if direction not in ("inbound", "outbound"):
        raise EventError("invalid_field", "must be inbound or outbound", "direction")
    inbound = direction == "inbound"
    customer = (row.get("from") if inbound else row.get("to")) or ""
    agent_side = (row.get("to") if inbound else row.get("from")) or ""
    extension = channel_endpoint(row.get("agent_channel")) or agent_side.strip()
    to = {"extension": extension} if extension else {}
    if (row.get("agent") or "").strip():
        to["login"] = row["agent"].strip()
    sender = {"phone": customer.strip()} if customer.strip() else {}
    name = (row.get("name") or "").strip() or _clid_name(row.get("clid"))
    if name:
        sender["name"] = name
    base = {
        "id": call_id,
        "timestamp": start.isoformat(),
        "channel": channel,
        "direction": direction,
        "from": sender,
    }
    recording = (row.get("recording_url") or "").strip()
    if recording:
        base["recording_url"] = recording
    if not answered:
        return [parse_event({**base, "event": "call.missed"})]
    seconds = talk if talk is not None else total or 0
    ended = end or start + timedelta(seconds=seconds)
    return [
        parse_event({**base, "event": "call.answered", "to": to, "duration": seconds}),
        parse_event(
            {"id": call_id, "event": "call.ended", "channel": channel,
             "timestamp": ended.isoformat(), "duration": seconds}
        ),
    ]  # fmt: skip


def _csv_rows(text):
    """``(line, {column: value})`` of a CSV text, or raise ``EventError``."""
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise EventError("invalid_body", f"line 1 is not CSV ({exc})") from None
    if first is None:
        return
    names = [_ALIASES.get(_key(cell)) for cell in first]
    if "call_id" in names and "start" in names:
        columns, header = names, True
    elif len(first) >= len(ASTERISK_MASTER_CSV) - 1:
        columns = [_ALIASES.get(name) for name in ASTERISK_MASTER_CSV]
        header = False
    else:
        raise EventError(
            "invalid_body",
            "the first line must name the columns (at least a call id and a start time)",
        )
    if not header and len(first) < len(ASTERISK_MASTER_CSV) - 1:
        raise EventError("invalid_body", "Asterisk Master.csv needs loguniqueid = yes")
    rows = [] if header else [(1, first)]
    line = reader.line_num
    try:
        for row in reader:
            rows.append((line + 1, row))
            line = reader.line_num
    except csv.Error as exc:  # a NUL byte, an unterminated quote, a cell of > 128 KiB
        raise EventError("invalid_body", f"line {line + 1} is not CSV ({exc})") from None
    for number, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            yield (
                number,
                EventError("invalid_body", f"{len(row)} cells, the header names {len(columns)}"),
            )
            continue
        values = {}
        for column, cell in zip(columns, row, strict=False):
            if column and (cell or "").strip() and column not in values:
                values[column] = cell
        yield number, values


def _json_rows(text):
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("records"), list):
            data = data["records"]
        if isinstance(data, list):
            for number, item in enumerate(data, start=1):
                yield number, item
            return
        if isinstance(data, dict):
            yield 1, data
            return
    for number, line in enumerate(text.splitlines(), start=1):  # JSON Lines
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            yield number, EventError("invalid_json", f"not a JSON object ({exc.msg})")


def _json_values(item):
    if not isinstance(item, dict):
        raise EventError("invalid_body", "a record must be an object")
    values = {}
    for key, value in item.items():
        column = _ALIASES.get(_key(str(key)))
        if column and value not in (None, "") and column not in values:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise EventError("invalid_field", "must be a string or a number", str(key))
            values[column] = str(value)
    return values


def parse_cdr(data, filename="", channel="phone", tz_name="UTC"):
    """Read a CDR file (bytes). Returns ``CdrResult(records, errors, unit)``:
    records in file order, one per call id (a later record of the same call is
    an error), errors as ``(line, message)``. Raises ``EventError`` when the
    file as a whole cannot be read. Naive times are in ``tz_name``."""
    try:
        tz = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise EventError("invalid_field", f"unknown time zone {tz_name!r}", "tz") from None
    if len(data) > MAX_FILE_BYTES:
        raise EventError(
            "payload_too_large",
            f"the file exceeds {MAX_FILE_BYTES // (1024 * 1024)} MB: split it (a month per file)",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EventError("invalid_body", "the file is not UTF-8 text") from None
    is_json = filename.lower().endswith((".json", ".jsonl", ".ndjson")) or (
        not filename.lower().endswith((".csv", ".txt")) and text.lstrip()[:1] in ("[", "{")
    )
    unit = "line"
    if is_json:
        rows = _json_rows(text)
        unit = "record" if text.lstrip().startswith("[") else "line"
    else:
        rows = _csv_rows(text)
    records, errors, seen = [], [], {}
    for number, row in rows:
        if len(records) + len(errors) >= MAX_RECORDS:
            raise EventError("invalid_body", f"a file holds at most {MAX_RECORDS} records")
        try:
            if isinstance(row, EventError):
                raise row
            values = _json_values(row) if is_json else row
            events = record_events(values, channel, tz)
        except EventError as exc:
            errors.append((number, f"{exc.field}: {exc.message}" if exc.field else exc.message))
            continue
        call_id = events[0]["id"]
        if call_id in seen:
            errors.append((number, f"call {call_id} is already on {unit} {seen[call_id]}"))
            continue
        seen[call_id] = number
        records.append(Record(number, call_id, events))
    return CdrResult(records, errors, unit)
