"""Every rule id the network engine can put in a decision or an ``audit.block`` event.

Invariant: the ids here are the complete set the network package emits, each with the sentence
docs/network.md explains; a test checks both directions. Ids are stable: renaming one is a
breaking change for audit queries and policy packs.
"""

from __future__ import annotations

ALLOWED = "network.allowed"

SCHEME_DENIED = "scheme.denied"
METHOD_DENIED = "method.denied"
URL_INVALID = "url.invalid"
URL_AMBIGUOUS = "url.ambiguous"
URL_CONFUSABLE = "url.confusable"

SSRF_UNSPECIFIED = "ssrf.unspecified"
SSRF_LOOPBACK = "ssrf.loopback"
SSRF_PRIVATE = "ssrf.private"
SSRF_SITE_LOCAL = "ssrf.site_local"
SSRF_CGNAT = "ssrf.cgnat"
SSRF_LINK_LOCAL = "ssrf.link_local"
SSRF_METADATA = "ssrf.metadata"
SSRF_MULTICAST = "ssrf.multicast"
SSRF_BROADCAST = "ssrf.broadcast"
SSRF_DOCUMENTATION = "ssrf.documentation"
SSRF_BENCHMARKING = "ssrf.benchmarking"
SSRF_RESERVED = "ssrf.reserved"

REACH_NONE = "reach.none"
REACH_HOST = "reach.host"
REACH_PORT = "reach.port"
REACH_TOOL_HOST = "reach.tool_host"

DNS_FAILED = "dns.failed"

REDIRECT_DENIED = "redirect.denied"
REDIRECT_TOO_MANY = "redirect.too_many"

REQUEST_BAD_HEADER = "request.bad_header"
REQUEST_TOO_LARGE = "request.too_large"
RESPONSE_TOO_LARGE = "response.too_large"
RESPONSE_BOMB = "response.decompressed_too_large"
RESPONSE_HEADERS_TOO_LARGE = "response.headers_too_large"
RESPONSE_BAD_ENCODING = "response.bad_encoding"
FETCH_TIMEOUT = "fetch.timeout"

SECRET_UNBOUND_HOST = "secret.unbound_host"
SECRET_SUBSTITUTION_FAILED = "secret.substitution_failed"

RULES: dict[str, str] = {
    ALLOWED: "the URL passed every check and names an address the connection will be pinned to",
    SCHEME_DENIED: "only http and https are allowed",
    METHOD_DENIED: "the HTTP method is not one the safe fetch sends",
    URL_INVALID: "the URL or its host cannot be parsed (bad port, bad IPv4 number, invalid IDNA label, too long)",
    URL_AMBIGUOUS: "userinfo, backslashes, whitespace, control or invisible characters, percent-encoded "
    "hosts, zone ids on routable addresses, or parsers disagreeing about the host",
    URL_CONFUSABLE: "a host label mixes Latin with Cyrillic or Greek letters (IDN look-alike)",
    SSRF_UNSPECIFIED: "0.0.0.0/8 or ::",
    SSRF_LOOPBACK: "127.0.0.0/8, ::1, localhost and *.localhost",
    SSRF_PRIVATE: "RFC 1918 ranges, IPv6 ULA fc00::/7, the local-use NAT64 prefix 64:ff9b:1::/48",
    SSRF_SITE_LOCAL: "deprecated IPv6 site-local fec0::/10",
    SSRF_CGNAT: "carrier-grade NAT 100.64.0.0/10",
    SSRF_LINK_LOCAL: "169.254.0.0/16 and all of fe80::/10",
    SSRF_METADATA: "cloud metadata addresses and names; never excepted by network.allowCidrs",
    SSRF_MULTICAST: "224.0.0.0/4 and ff00::/8",
    SSRF_BROADCAST: "255.255.255.255",
    SSRF_DOCUMENTATION: "documentation ranges (TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20)",
    SSRF_BENCHMARKING: "benchmarking ranges 198.18.0.0/15 and 2001:2::/48",
    SSRF_RESERVED: "reserved or special-purpose space (240.0.0.0/4, 192.0.0.0/24, IPv6 outside 2000::/3, ...)",
    REACH_NONE: "the personality declares no safety.networkReach (or an empty one): no egress",
    REACH_HOST: "the host matches no safety.networkReach entry",
    REACH_PORT: "the host matches an entry but the port is not listed in its ports",
    REACH_TOOL_HOST: "the host is outside the hosts the calling tool declared",
    DNS_FAILED: "the name did not resolve, or the resolver answered something that is not an address",
    REDIRECT_DENIED: "a redirect was unusable: ambiguous Location, https to http downgrade",
    REDIRECT_TOO_MANY: "more redirects than network.maxRedirects (at most 5)",
    REQUEST_BAD_HEADER: "a request header name or value is malformed",
    REQUEST_TOO_LARGE: "the request body is larger than the request cap",
    RESPONSE_TOO_LARGE: "the response body exceeded network.maxResponseBytes on the wire",
    RESPONSE_BOMB: "the decompressed body exceeded the decompressed size cap",
    RESPONSE_HEADERS_TOO_LARGE: "the response headers exceeded the header size cap",
    RESPONSE_BAD_ENCODING: "the response uses a content encoding the safe fetch cannot bound",
    FETCH_TIMEOUT: "connect, read or total time limit reached",
    SECRET_UNBOUND_HOST: "a secret placeholder was about to leave for a host it is not bound to",
    SECRET_SUBSTITUTION_FAILED: "secret placeholder substitution failed; the request was not sent",
}
