"""Tests for casetext.signatures: each signature type, stability across volatile parts."""

from __future__ import annotations

import time

import pytest

from casetext.signatures import extract_signatures, normalise_message

JAVA_TRACE = """\
2024-03-01 12:00:01,123 ERROR [pool-3-thread-7] o.a.h.hdfs.DFSClient: Failed to open block
java.lang.IllegalStateException: Connection pool shut down
\tat org.apache.http.pool.AbstractConnPool.lease(AbstractConnPool.java:189)
\tat org.apache.hadoop.hdfs.DFSClient.open(DFSClient.java:1234)
\tat org.apache.hadoop.hdfs.DistributedFileSystem$4.doCall(DistributedFileSystem.java:321)
\tat org.apache.hadoop.fs.FileSystemLinkResolver.resolve(FileSystemLinkResolver.java:81)
\tat java.base/java.lang.Thread.run(Thread.java:833)
Caused by: java.net.ConnectException: Connection refused to db-7.prod.internal:5432 after 3021ms
\tat java.base/sun.nio.ch.Net.connect0(Native Method)
\tat org.postgresql.core.PGStream.<init>(PGStream.java:95)
\t... 5 more
"""

PYTHON_TRACE = """\
Traceback (most recent call last):
  File "/srv/app/handlers/orders.py", line 42, in handle
    total = compute(order)
  File "/srv/app/billing/compute.py", line 12, in compute
    return prices[order.sku]
  File "/usr/lib/python3.11/collections/__init__.py", line 1123, in __getitem__
    raise KeyError(key)
KeyError: 'sku-123'
"""

GO_TRACE = """\
panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.handler(0xc000012345, 0x3)
\t/app/main.go:42 +0x1d
github.com/acme/api/server.(*Server).ServeHTTP(0xc0000b4000, {0x7f8e2c, 0xc0000d2000})
\t/go/pkg/mod/github.com/acme/api/server/server.go:118 +0x2a5
net/http.serverHandler.ServeHTTP({0xc0000a6000}, {0x7f8e2c, 0xc0000d2000}, 0xc0000c8000)
\t/usr/local/go/src/net/http/server.go:2936 +0x316
"""

DOTNET_TRACE = """\
Unhandled exception. System.InvalidOperationException: Sequence contains no elements
   at System.Linq.ThrowHelper.ThrowNoElementsException()
   at System.Linq.Enumerable.First[TSource](IEnumerable`1 source)
   at Acme.Orders.OrderService.GetLatest(Int32 customerId) in C:\\src\\Acme\\OrderService.cs:line 57
   at Acme.Orders.Program.Main(String[] args) in C:\\src\\Acme\\Program.cs:line 12
"""


# --- exceptions --------------------------------------------------------------------------
def test_java_trace() -> None:
    signatures = extract_signatures(JAVA_TRACE)
    for expected in [
        "exc:java.lang.IllegalStateException",
        "exc:IllegalStateException",
        "msg:connection pool shut down",
        "msg:failed to open block",
        "exc:java.net.ConnectException",
        "exc:ConnectException",
        "msg:connection refused to <host>:<num> after <num>ms",
        "frame:org.apache.http.pool.AbstractConnPool.lease",
        "frame:org.apache.hadoop.hdfs.DFSClient.open",
        "frame:org.apache.hadoop.hdfs.DistributedFileSystem$4.doCall",
        "frame:org.postgresql.core.PGStream.<init>",
    ]:
        assert expected in signatures
    frames = [s for s in signatures if s.startswith("frame:")]
    # Top three application frames of the first trace; JDK frames are skipped.
    assert "frame:org.apache.hadoop.fs.FileSystemLinkResolver.resolve" not in frames
    assert not any(s.startswith(("frame:java.", "frame:sun.")) for s in frames)
    # First-seen order: the log line comes before the exception it reports.
    assert signatures.index("msg:failed to open block") < signatures.index(
        "exc:java.lang.IllegalStateException"
    )


def test_python_trace() -> None:
    signatures = extract_signatures(PYTHON_TRACE)
    assert "exc:KeyError" in signatures
    # Innermost application frames; the stdlib frame is skipped; no line numbers.
    assert "frame:orders.py:handle" in signatures
    assert "frame:compute.py:compute" in signatures
    assert not any("__getitem__" in s for s in signatures)
    # "KeyError: 'sku-123'" has no message worth a signature once the value is a placeholder.
    assert not any(s.startswith("msg:") for s in signatures)


def test_python_library_frames_keep_their_package_path() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/opt/venv/lib/python3.12/site-packages/requests/adapters.py", line 519, in send\n'
        "    raise ConnectionError(e, request=request)\n"
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.x.com', port=443): "
        "Max retries exceeded (Caused by NewConnectionError('<obj>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))\n"
    )
    signatures = extract_signatures(trace)
    assert "frame:requests/adapters.py:send" in signatures
    assert "exc:requests.exceptions.ConnectionError" in signatures
    assert "exc:ConnectionError" in signatures
    assert "exc:NewConnectionError" in signatures
    assert "code:ECONNREFUSED" in signatures


def test_go_panic_and_goroutine_frames() -> None:
    signatures = extract_signatures(GO_TRACE)
    assert "exc:go.panic:runtime error: index out of range" in signatures
    assert "msg:runtime error: index out of range [<num>] with length <num>" in signatures
    assert "frame:main.handler" in signatures
    assert "frame:github.com/acme/api/server.(*Server).ServeHTTP" in signatures
    assert "frame:net/http.serverHandler.ServeHTTP" not in signatures  # standard library


def test_go_panic_is_stable_across_indexes() -> None:
    other = GO_TRACE.replace("[5] with length 3", "[12] with length 7")
    assert "exc:go.panic:runtime error: index out of range" in extract_signatures(other)


def test_go_panic_head_keeps_digits_inside_words() -> None:
    signatures = extract_signatures("panic: x509: certificate signed by unknown authority")
    assert "exc:go.panic:x509: certificate signed by unknown authority" in signatures


def test_go_fatal_error_needs_go_context() -> None:
    go = "fatal error: concurrent map writes\n\ngoroutine 7 [running]:\nmain.main()\n"
    assert "exc:go.fatal:concurrent map writes" in extract_signatures(go)
    gcc = "main.c:1:10: fatal error: foo.h: No such file or directory"
    assert not any(s.startswith("exc:go.") for s in extract_signatures(gcc))


def test_dotnet_trace() -> None:
    signatures = extract_signatures(DOTNET_TRACE)
    assert "exc:System.InvalidOperationException" in signatures
    assert "exc:InvalidOperationException" in signatures
    assert "msg:sequence contains no elements" in signatures
    assert "frame:Acme.Orders.OrderService.GetLatest" in signatures
    assert "frame:Acme.Orders.Program.Main" in signatures
    # A method named ...Exception inside a frame is not a thrown exception.
    assert "exc:ThrowNoElementsException" not in signatures


def test_node_trace() -> None:
    trace = (
        "Error: connect ECONNREFUSED 10.0.0.5:5432\n"
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n"
        "    at Pool.connect (/app/node_modules/pg-pool/index.js:45:11)\n"
        "    at Repo.findUser (/app/src/repo.js:88:20)\n"
        "    at async Handler.get (/app/src/handler.js:12:5)\n"
    )
    signatures = extract_signatures(trace)
    assert "code:ECONNREFUSED" in signatures
    assert "msg:connect econnrefused <ip>:<num>" in signatures
    assert "frame:repo.js:Repo.findUser" in signatures
    assert "frame:handler.js:Handler.get" in signatures
    assert not any("pg-pool" in s or "index.js" in s for s in signatures)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KeyError: 'x'", ["exc:KeyError"]),
        ("we hit a NullPointerException again", ["exc:NullPointerException"]),
        ("raise ValueError(msg)", ["exc:ValueError"]),
        (
            "org.apache.zookeeper.KeeperException$NodeExistsException: exists",
            [
                "exc:org.apache.zookeeper.KeeperException$NodeExistsException",
                "exc:NodeExistsException",
            ],
        ),
    ],
)
def test_exception_names(text: str, expected: list[str]) -> None:
    signatures = extract_signatures(text)
    assert [s for s in signatures if s.startswith("exc:")] == expected


@pytest.mark.parametrize(
    "text",
    [
        "There was an Error on the page",  # bare word
        "handleError() and onError callbacks",  # methods
        "the ErrorHandlerFactory class",  # suffix inside a longer name
        "Pod is in CreateContainerConfigError",  # a Kubernetes reason, reported as a code
    ],
)
def test_exception_lookalikes(text: str) -> None:
    assert not any(s.startswith("exc:") for s in extract_signatures(text))


# --- HTTP --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("HTTP 503 from the gateway", 503),
        ("< HTTP/1.1 502 Bad Gateway", 502),
        ("upstream status 504", 504),
        ("status: 401", 401),
        ('{"status": 409, "detail": "conflict"}', 409),
        ("503 Service Unavailable", 503),
        ("the API returned 500", 500),
        ("status_code=429", 429),
        ("statusCode: 404", 404),
        ("HTTP Error 403: Forbidden", 403),
        ("we got a 502 from the load balancer", 502),
        ("lots of 500 errors today", 500),
        ("redirect loop, http status 301", 301),
    ],
)
def test_http_status_in_context(text: str, code: int) -> None:
    assert f"http:{code}" in extract_signatures(text)


@pytest.mark.parametrize(
    "text",
    [
        "took 503 ms to respond",
        "processed 404 records from 500 files",
        "see line 404 of Foo.java:503",
        "listening on port 443 and 8443",
        "we have 250 users in 3 regions and 503 devices",
        "status: 200 OK",  # success is not a failure signature
        "version 5.0.3 build 404-beta",
        "order #500 and ticket PROJ-404",
        "returned 500 rows",
    ],
)
def test_numbers_that_are_not_http_statuses(text: str) -> None:
    assert not any(s.startswith("http:") for s in extract_signatures(text))


# --- codes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("payment failed with ERR_CARD_DECLINED", "ERR_CARD_DECLINED"),
        ("net::ERR_CONNECTION_RESET in Chrome", "ERR_CONNECTION_RESET"),
        ("installer error E1234 at step 3", "E1234"),
        ("ORA-00942: table or view does not exist", "ORA-00942"),
        ("read ECONNRESET", "ECONNRESET"),
        ("connect ETIMEDOUT 10.0.0.1:443", "ETIMEDOUT"),
        (
            "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            "DEADLINE_EXCEEDED",
        ),
        ("grpc status RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED"),
        ("StatusCode.UNAVAILABLE: failed to connect", "UNAVAILABLE"),
        ("OSError: [Errno 28] No space left on device", "ENOSPC"),
        ("Container exited with code 137", "EXIT_137"),
        ("pod in CrashLoopBackOff after OOMKilled", "CrashLoopBackOff"),
        ("worker died with SIGSEGV", "SIGSEGV"),
        ('ERROR: relation "x" does not exist SQLSTATE 42P01', "SQLSTATE_42P01"),
        ("ERROR 1045 (28000): Access denied for user", "MYSQL_1045"),
        ('{"error": {"code": "card_declined", "message": "Declined"}}', "card_declined"),
        ("AADSTS50076: MFA required", "AADSTS50076"),
    ],
)
def test_error_codes(text: str, code: str) -> None:
    assert f"code:{code}" in extract_signatures(text)


@pytest.mark.parametrize(
    "text",
    [
        "the service is UNAVAILABLE right now",  # bare gRPC word without gRPC context
        "set JAVA_HOME and HADOOP_CONF_DIR",  # environment variables
        "use SHA256 and X509 certs, ISO8601 dates",
        "see HADOOP-12345 and HDFS-999",  # issue keys
        "EXPIRED and ERROR and EMAIL",  # uppercase words, not errno names
        "process exited with code 0",
    ],
)
def test_code_lookalikes(text: str) -> None:
    assert not any(s.startswith("code:") for s in extract_signatures(text))


# --- alerts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "alert"),
    [
        ("[FIRING:1] KubePodCrashLooping (api-7d9f prod)", "KubePodCrashLooping"),
        ("[RESOLVED] NodeFilesystemSpaceFillingUp", "NodeFilesystemSpaceFillingUp"),
        ('alertname="KubeNodeNotReady", severity="critical"', "KubeNodeNotReady"),
        ("alertname=TargetDown job=node", "TargetDown"),
        ("We got alert KubeJobFailed at 3am", "KubeJobFailed"),
        ("Alert: PrometheusRuleFailures", "PrometheusRuleFailures"),
    ],
)
def test_alert_names(text: str, alert: str) -> None:
    assert f"alert:{alert}" in extract_signatures(text)


def test_alert_word_without_alert_name() -> None:
    assert extract_signatures("Please alert Manager about the outage") == []


# --- messages ----------------------------------------------------------------------------
def test_normalise_message_example_from_the_spec() -> None:
    first = normalise_message("Connection refused to db-7.prod.internal:5432 after 3021ms")
    second = normalise_message("Connection refused to db-2.prod.internal:5432 after 15ms")
    assert first == second == "connection refused to <host>:<num> after <num>ms"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Request 123e4567-e89b-12d3-a456-426614174000 failed",
            "request <uuid> failed",
        ),
        ("at 2024-03-01T12:00:01.123Z on 10.1.2.3", "at <ts> on <ip>"),
        ("commit 3f2a9c1b7d8e and address 0x7f3b2c1d", "commit <hex> and address <hex>"),
        ("Table 'orders' doesn't exist", "table <str> doesn't exist"),
        ('file "C:\\\\tmp\\\\x.txt" not found', "file <str> not found"),
        ("GET https://api.stripe.com/v1/charges failed", "get <url>/v<num>/charges failed"),
        ("from fe80::1ff:fe23:4567:890a and 2001:db8::1", "from <ip> and <ip>"),
        ("open /home/alice/src/app/config.yaml failed", "open <path>/config.yaml failed"),
        ("id req_8f3kXz91ab expired", "id req_<id> expired"),
        ("  MANY   spaces\tand\nlines  ", "many spaces and lines"),
        (
            "reached 1,234.56 of quota on [IP] for [EMAIL]",
            "reached <num> of quota on <ip> for <email>",
        ),
        ("timeout in org.apache.hadoop.io package", "timeout in org.apache.hadoop.io package"),
    ],
)
def test_normalise_message(text: str, expected: str) -> None:
    assert normalise_message(text) == expected


def test_normalise_message_is_bounded() -> None:
    long = "Failed to reach " + " ".join(f"host{i}" for i in range(200))
    normal = normalise_message(long)
    assert len(normal) <= 120
    assert normal.startswith("failed to reach host<num>")
    assert not normal.endswith("<nu")


def test_error_line_messages() -> None:
    text = (
        "ERROR: could not serialize access due to concurrent update\n"
        "[ERROR] [main] com.acme.Sync - Upstream sync aborted for tenant 42\n"
        "error: failed to push some refs to origin\n"
    )
    signatures = extract_signatures(text)
    assert "msg:could not serialize access due to concurrent update" in signatures
    assert "msg:upstream sync aborted for tenant <num>" in signatures
    assert "msg:failed to push some refs to origin" in signatures


def test_chained_exception_line_gives_the_innermost_message() -> None:
    text = "java.lang.RuntimeException: java.io.IOException: No space left on device"
    messages = [s for s in extract_signatures(text) if s.startswith("msg:")]
    assert messages == ["msg:no space left on device"]


def test_uninformative_exception_message_falls_back_to_the_error_line() -> None:
    signatures = extract_signatures("Error: failed to load config: ValueError: 'x'")
    assert "msg:failed to load config: valueerror: <str>" in signatures
    assert "exc:ValueError" in signatures


def test_json_escaped_trace() -> None:
    text = (
        '{"log":"java.io.IOException: Broken pipe\\n\\tat com.acme.Io.write(Io.java:12)'
        '\\n\\tat com.acme.App.run(App.java:3)\\n"}'
    )
    assert extract_signatures(text) == [
        "exc:java.io.IOException",
        "exc:IOException",
        "msg:broken pipe",
        "frame:com.acme.Io.write",
        "frame:com.acme.App.run",
    ]


def test_build_tool_boilerplate_is_not_a_message() -> None:
    text = (
        "[ERROR] Tests run: 48, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 4.469 s\n"
        "[ERROR] -> [Help 1]\n"
        "[ERROR] Re-run Maven using the -X switch to enable full debug logging.\n"
    )
    assert extract_signatures(text) == []


def test_messages_are_capped() -> None:
    text = "\n".join(f"ERROR: worker {name} lost its lease" for name in "abcdefghijklmnop")
    messages = [s for s in extract_signatures(text) if s.startswith("msg:")]
    assert len(messages) == 8


# --- matching behaviour -------------------------------------------------------------------
def _ticket(request_id: str, host: str, ms: int, when: str, thread: int) -> str:
    return f"""Checkout fails intermittently since {when}.
{when} ERROR [http-nio-8080-exec-{thread}] c.a.checkout.PaymentClient: request {request_id}
HTTP 503 Service Unavailable from {host}
java.net.SocketTimeoutException: Read timed out after {ms}ms calling {host}:8443
\tat java.base/java.net.SocketInputStream.socketRead0(Native Method)
\tat com.acme.checkout.PaymentClient.charge(PaymentClient.java:{ms % 300})
\tat com.acme.checkout.CheckoutService.pay(CheckoutService.java:88)
"""


def test_same_failure_with_different_volatile_parts_shares_signatures() -> None:
    first = extract_signatures(
        _ticket(
            "9b2c1d3e-1111-4a4a-8b8b-123456789abc",
            "pay-3.prod.internal",
            3021,
            "2024-03-01 12:00:01",
            7,
        )
    )
    second = extract_signatures(
        _ticket(
            "0f9e8d7c-2222-4b4b-9c9c-abcdef012345",
            "pay-9.prod.internal",
            15,
            "2024-05-17 08:30:59",
            42,
        )
    )
    shared = set(first) & set(second)
    assert {
        "http:503",
        "exc:java.net.SocketTimeoutException",
        "msg:read timed out after <num>ms calling <host>:<num>",
        "frame:com.acme.checkout.PaymentClient.charge",
    } <= shared
    assert first == second


def test_different_failures_do_not_collide() -> None:
    timeout = extract_signatures(
        _ticket(
            "9b2c1d3e-1111-4a4a-8b8b-123456789abc", "pay-3.prod.internal", 3021, "2024-03-01", 7
        )
    )
    other = extract_signatures(
        "Export job fails.\n"
        "java.lang.OutOfMemoryError: Java heap space\n"
        "\tat com.acme.export.CsvWriter.write(CsvWriter.java:51)\n"
        "\tat com.acme.export.ExportJob.run(ExportJob.java:20)\n"
        "Container exited with code 137\n"
    )
    assert other
    assert not set(timeout) & set(other)


def test_plain_prose_gives_no_signatures() -> None:
    prose = (
        "Hi team, since yesterday afternoon the dashboard has been slow for about 250 users "
        "in 3 regions. Could you take a look at it? We noticed it at 3pm and the exports "
        "took roughly 500 seconds. Thanks, Bob"
    )
    assert extract_signatures(prose) == []


def test_dedup_order_and_limit() -> None:
    text = "ERR_A_ONE then ERR_B_TWO then ERR_A_ONE again, then ERR_C_THREE"
    assert extract_signatures(text) == ["code:ERR_A_ONE", "code:ERR_B_TWO", "code:ERR_C_THREE"]
    assert extract_signatures(text, limit=2) == ["code:ERR_A_ONE", "code:ERR_B_TWO"]
    assert extract_signatures(text, limit=0) == []
    assert extract_signatures("") == []


def test_frames_per_trace_are_capped() -> None:
    frames = "".join(f"\tat com.acme.deep.Layer{i}.call(Layer{i}.java:{i})\n" for i in range(30))
    signatures = extract_signatures("java.lang.StackOverflowError\n" + frames)
    assert [s for s in signatures if s.startswith("frame:")] == [
        "frame:com.acme.deep.Layer0.call",
        "frame:com.acme.deep.Layer1.call",
        "frame:com.acme.deep.Layer2.call",
    ]


def test_frames_in_a_pasted_single_line_trace() -> None:
    # Web forms often collapse newlines; strong Java locations still count as frames.
    text = (
        "java.lang.IllegalArgumentException: bad id at com.acme.Ids.parse(Ids.java:10) "
        "at com.acme.Api.get(Api.java:20)"
    )
    signatures = extract_signatures(text)
    assert "frame:com.acme.Ids.parse" in signatures
    assert "frame:com.acme.Api.get" in signatures


def test_prose_with_at_is_not_a_frame() -> None:
    assert extract_signatures("Please look at Foo.bar(x) when you have time") == []


# --- robustness --------------------------------------------------------------------------
def test_huge_log_returns_quickly_with_bounded_output() -> None:
    chunk = JAVA_TRACE + PYTHON_TRACE + GO_TRACE + DOTNET_TRACE + "HTTP 503\nERR_X_Y\n"
    text = (chunk * (110_000 // len(chunk) + 1))[:110_000]
    start = time.perf_counter()
    signatures = extract_signatures(text)
    assert time.perf_counter() - start < 5.0
    assert 0 < len(signatures) <= 32
    assert len(signatures) == len(set(signatures))


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "at " * 33_000,
        "Error: " * 14_000,
        "a.b" * 33_000,
        "(" * 100_000,
        "1" * 100_000,
        "at a.b(" * 14_000,
        "\n\t" * 50_000,
        "::" * 50_000,
        'File "' * 16_000,
        "panic: x\n" * 11_000,
        "500 " * 25_000,
        "Exception" * 11_000,
        ("x" * 50 + ".go:1\n\t") * 1_500,
        "'" * 100_000,
        "ERROR " * 16_000,
    ],
)
def test_adversarial_inputs_stay_linear(text: str) -> None:
    start = time.perf_counter()
    extract_signatures(text)
    assert time.perf_counter() - start < 5.0


def test_very_long_text_is_scanned_head_and_tail() -> None:
    filler = "lorem ipsum dolor sit amet " * 80_000  # ~2 MB of prose
    text = "ERR_AT_START\n" + filler + "\nERR_AT_END"
    assert extract_signatures(text) == ["code:ERR_AT_START", "code:ERR_AT_END"]
