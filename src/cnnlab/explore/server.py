"""The explorer's web server: Python's ``http.server``, the page's files, a JSON API.

Why the standard library: the page needs a handful of JSON routes and three static
files; ``ThreadingHTTPServer`` serves them in ~200 lines with no dependency.

Safety, by construction:

- static files come from a fixed table (:data:`STATIC`) read from the package: no
  path from the request ever reaches the file system, so ``..`` cannot escape;
- request bodies need a ``Content-Length`` no larger than :data:`MAX_BODY` (images) or
  :data:`MAX_JSON` (everything else); larger ones are refused unread (413);
- uploads are decoded in memory by :func:`cnnlab.digits.decode_gray` (PNG/JPEG only,
  pixel count checked from the header before decoding);
- nothing is written to disk; JSON is parsed with :func:`json.loads` (data only);
- every error is a JSON ``{"error": message}`` with a 4xx status; an unexpected one is
  a 500 with a one-line message, never a traceback on the page or the console.

Routes: ``GET /`` (the page), ``GET /static/<file>``, ``GET /api/info``,
``GET /api/test?index=N``, ``POST /api/image`` (raw PNG/JPEG bytes; ``?drawing=1`` for
a drawing), ``POST /api/analyse``, ``/api/neuron``, ``/api/saliency`` and ``/api/shape``
(JSON).
"""

from __future__ import annotations

import json
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from .. import digits
from .lab import RequestError, check_digit
from .playground import layer_shape

MAX_BODY = 2 * 1024 * 1024
"""Largest upload accepted (bytes)."""
MAX_JSON = 64 * 1024
"""Largest JSON request accepted (bytes); a digit is about 3 KiB."""
UPLOAD_FORMATS = ("PNG", "JPEG")
STATIC = {"index.html": "text/html; charset=utf-8",
          "explore.js": "text/javascript; charset=utf-8",
          "explore.css": "text/css; charset=utf-8"}
"""The only files served, with their content types."""


def static_file(name: str) -> bytes:
    """The bytes of one of the page's files (a name from :data:`STATIC`)."""
    return resources.files(__package__).joinpath("static", name).read_bytes()


class HttpError(Exception):
    """An answer with a status other than 200 and a message for the page."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    """One request: a static file or a JSON answer from the server's Explorer."""

    server_version = "cnnlab-explore"
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may stay silent (a body promised but not sent)

    # --- plumbing

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if self.server.verbose:
            sys.stderr.write(f"cnnlab explore: {self.address_string()} {format % args}\n")

    def _send(self, status, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; "
                         "style-src 'self'; script-src 'self'")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value, status=HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value, allow_nan=False).encode(),
                   "application/json; charset=utf-8")

    def _body(self, limit: int) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HttpError(HTTPStatus.LENGTH_REQUIRED,
                            "send the body with a Content-Length, not chunked")
        try:
            size = int(length)
        except (TypeError, ValueError):
            size = -1
        if size < 0:
            self.close_connection = True
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header with the "
                            f"body's size in bytes is required, got {length!r:.40}")
        if size > limit:
            self.close_connection = True  # the body stays unread: drop the connection
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            f"the request is {size:,} bytes; at most {limit:,} are accepted")
        body = self.rfile.read(size)
        if len(body) != size:
            self.close_connection = True
            raise HttpError(HTTPStatus.BAD_REQUEST, "the request body ended early")
        return body

    def _request_json(self) -> dict:
        body = self._body(MAX_JSON)
        try:
            value = json.loads(body.decode("utf-8"))
        except ValueError as error:  # bad UTF-8, bad JSON, a number of 5,000 digits
            raise HttpError(HTTPStatus.BAD_REQUEST,
                            f"the request is not valid JSON: {str(error)[:200]}") from None
        except RecursionError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "the request is not valid JSON: nested "
                            "too deeply") from None
        if not isinstance(value, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST,
                            f"the request must be a JSON object, got {type(value).__name__}")
        return value

    def _answer(self, route) -> None:
        try:
            route()
        except HttpError as error:
            self.close_connection = True  # a body may be left unread
            self._json({"error": str(error)}, error.status)
        except RequestError as error:
            self.close_connection = True
            self._json({"error": str(error)}, HTTPStatus.BAD_REQUEST)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as error:  # one line on the console and the page, no traceback
            message = f"internal error: {type(error).__name__}: {' '.join(str(error).split())}"
            sys.stderr.write(f"cnnlab explore: {self.command} {self.path[:80]!r}: {message}\n")
            self._json({"error": message}, HTTPStatus.INTERNAL_SERVER_ERROR)

    # --- routes

    def do_GET(self):  # noqa: N802 (http.server's name)
        self._answer(self._get)

    def do_HEAD(self):  # noqa: N802
        self._answer(self._get)

    def do_POST(self):  # noqa: N802
        self._answer(self._post)

    def _other(self):
        raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not served")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = lambda self: self._answer(self._other)  # noqa

    def _get(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        if path in ("/", "/index.html"):
            path = "/static/index.html"
        explorer = self.server.explorer
        if path.startswith("/static/") and path[len("/static/"):] in STATIC:
            name = path[len("/static/"):]
            self._send(HTTPStatus.OK, static_file(name), STATIC[name])
        elif path == "/api/info":
            self._json({**explorer.info(), "max_upload": MAX_BODY})
        elif path == "/api/test":
            values = parse_qs(url.query).get("index", [""])
            try:
                index = int(values[0])
            except ValueError:
                raise HttpError(HTTPStatus.BAD_REQUEST,
                                f"index must be an integer, got {values[0][:40]!r}") from None
            self._json(explorer.test_image(index))
        else:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such page: {path[:80]!r}")

    def _post(self) -> None:
        url = urlsplit(self.path)
        explorer = self.server.explorer
        if url.path == "/api/image":
            self._json(read_upload(self._body(MAX_BODY),
                                   drawing=parse_qs(url.query).get("drawing") == ["1"]))
            return
        routes = {"/api/analyse": lambda r: explorer.analyse(check_digit(r.get("digit"))),
                  "/api/neuron": lambda r: explorer.neuron(check_digit(r.get("digit")), r),
                  "/api/saliency": lambda r: explorer.saliency(check_digit(r.get("digit")), r),
                  "/api/shape": layer_shape}
        if url.path not in routes:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such route: {url.path[:80]!r}")
        self._json(routes[url.path](self._request_json()))


def read_upload(body: bytes, drawing: bool = False) -> dict:
    """An uploaded PNG/JPEG (or the page's drawing) as a 28x28 digit.

    The same reader as ``cnnlab predict`` (:mod:`cnnlab.digits`); a drawing is also
    fitted into MNIST's 20x20 box (:func:`cnnlab.digits.fit_digit_box`).
    """
    if not body:
        raise RequestError("the upload is empty: choose a PNG or JPEG file")
    try:
        gray = digits.decode_gray(body, formats=UPLOAD_FORMATS)
    except digits.ImageError as error:
        raise RequestError(f"cannot read this file: {error}") from None
    digit, inverted = digits.prepare_digit(gray)
    notes = ["inverted (dark on light)"] if inverted else []
    if gray.shape != digits.IMAGE_SIZE:
        notes.append(f"resized from {gray.shape[1]}x{gray.shape[0]}")
    if drawing:
        digit = digits.fit_digit_box(digit)
        notes = ["scaled into a 20x20 box and centred, as MNIST's digits"]
    return {"digit": digit.ravel().tolist(), "notes": notes}


class ExploreServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the :class:`~cnnlab.explore.lab.Explorer`.

    Handler threads are daemons, so Ctrl-C ends the process at once; a client that
    hangs up mid-answer is not an error worth a traceback.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, explorer, verbose: bool = False):
        self.explorer = explorer
        self.verbose = verbose
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            sys.stderr.write(f"cnnlab explore: dropped a request from {client_address[0]}: "
                             f"{type(error).__name__}: {error}\n")


def make_server(explorer, host: str = "127.0.0.1", port: int = 0,
                verbose: bool = False) -> ExploreServer:
    """A server for ``explorer`` bound to ``host:port`` (port 0: any free port)."""
    return ExploreServer((host, port), explorer, verbose)


__all__ = ["ExploreServer", "MAX_BODY", "MAX_JSON", "make_server", "read_upload"]
