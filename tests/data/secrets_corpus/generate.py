"""Generate the labelled secret corpus (``corpus.jsonl``) used by tests and bench/redaction.py.

Every value is synthetic (random characters in each provider's published shape); none is a
real credential. Run ``python tests/data/secrets_corpus/generate.py`` to rewrite the file;
the seed is fixed so the output is stable.

Each line: ``{"label": <label or null>, "text": ..., "secrets": [values that must disappear],
"keep": [substrings that must survive]}``. ``label`` null = a negative case.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

B62 = string.ascii_letters + string.digits
URLSAFE = B62 + "-_"
HEX = "0123456789abcdef"


def rand(rng: random.Random, alphabet: str, n: int) -> str:
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        # keep synthetic tokens "random-looking" (mixed classes) like real ones
        mixed_alphabet = any(c.isdigit() for c in alphabet) and any(c.isalpha() for c in alphabet)
        if alphabet == HEX or not mixed_alphabet or (any(c.isdigit() for c in s) and any(c.isalpha() for c in s)):
            return s


def fakes(rng: random.Random) -> list[tuple[str, str, str]]:
    """``(label, text with the secret in context, secret)`` — one of each format."""
    r = lambda a, n: rand(rng, a, n)  # noqa: E731
    out: list[tuple[str, str, str]] = []

    def add(label: str, template: str, secret: str) -> None:
        out.append((label, template.format(s=secret), secret))

    add("anthropic", "ANTHROPIC_API_KEY={s}", "sk-ant-api03-" + r(URLSAFE, 93) + "AA")
    add("anthropic", "client = Anthropic(api_key=\"{s}\")", "sk-ant-api03-" + r(URLSAFE, 93) + "AA")
    add("openai", "export OPENAI_API_KEY='{s}'", "sk-proj-" + r(URLSAFE, 156))
    add("openai", "key: {s}", "sk-" + r(B62, 20) + "T3BlbkFJ" + r(B62, 20))
    add("openrouter", "Authorization header uses {s}", "sk-or-v1-" + r(HEX, 64))
    add("groq", "GROQ_API_KEY={s}", "gsk_" + r(B62, 52))
    add("aws_access_key_id", "aws_access_key_id = {s}", "AKIA" + r(string.ascii_uppercase + string.digits, 16))
    add("aws_access_key_id", "creds: {s}", "ASIA" + r(string.ascii_uppercase + string.digits, 16))
    add("aws_secret_access_key", "aws_secret_access_key = {s}", r(B62 + "/+", 40))
    add("aws_secret_access_key", '{{"AWS_SECRET_ACCESS_KEY": "{s}"}}', r(B62 + "/+", 40))
    for p in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"):
        add("github", "git clone https://x-access-token:{s}@github.com/o/r", p + r(B62, 36))
    add("github", "GITHUB_TOKEN={s}", "github_pat_" + r(B62, 22) + "_" + r(B62, 59))
    add("gitlab", "PRIVATE-TOKEN: {s}", "glpat-" + r(URLSAFE, 20))
    add("slack_token", "SLACK_BOT_TOKEN={s}", "xoxb-" + r("0123456789", 12) + "-" + r("0123456789", 13) + "-" + r(B62, 24))
    add("slack_token", "token {s}", "xoxp-" + r("0123456789", 12) + "-" + r("0123456789", 12) + "-" + r("0123456789", 13) + "-" + r(HEX, 32))
    add(
        "slack_webhook",
        "curl -X POST {s} -d '{{}}'",
        "https://hooks.slack.com/services/T" + r(string.ascii_uppercase + string.digits, 8) + "/B" + r(string.ascii_uppercase + string.digits, 8) + "/" + r(B62, 24),
    )
    add("telegram_bot_token", "TELEGRAM_BOT_TOKEN={s}", r("0123456789", 10) + ":AA" + r(URLSAFE, 33))
    add("discord_bot_token", "bot.run('{s}')", "MT" + r(B62, 24) + "." + r(URLSAFE, 6) + "." + r(URLSAFE, 38))
    add("discord_webhook", "webhook: {s}", "https://discord.com/api/webhooks/" + r("0123456789", 18) + "/" + r(URLSAFE, 68))
    add("stripe", "stripe.api_key = \"{s}\"", "sk_live_" + r(B62, 99))
    add("stripe", "STRIPE_KEY={s}", "rk_test_" + r(B62, 24))
    add("google_api_key", "https://maps.googleapis.com/maps/api/geocode/json?key={s}", "AIza" + r(URLSAFE, 35))
    add("gcp_service_account", '{{"type": "service_account", "private_key_id": "{s}"}}', r(HEX, 40))
    pem_body = "\n".join(r(B62 + "+/", 64) for _ in range(8))
    for kind in ("RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED ", "DSA "):
        pem = f"-----BEGIN {kind}PRIVATE KEY-----\n{pem_body}\n-----END {kind}PRIVATE KEY-----"
        out.append(("private_key", f"key file:\n{pem}\nend", pem))
    enc = (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC," + r(HEX, 32).upper()
        + "\n\n" + pem_body + "\n-----END RSA PRIVATE KEY-----"
    )
    out.append(("private_key", f"legacy encrypted key\n{enc}\n", enc))
    json_pem = "-----BEGIN PRIVATE KEY-----\\n" + r(B62, 64) + "\\n" + r(B62, 64) + "\\n-----END PRIVATE KEY-----\\n"
    out.append(("private_key", '{"private_key": "' + json_pem + '", "client_email": "svc@p.iam.gserviceaccount.com"}', json_pem))
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(json.dumps({"sub": r(B62, 10), "iat": 1700000000}).encode()).decode().rstrip("=")
    add("jwt", "cookie: session={s}", f"{header}.{payload}.{r(URLSAFE, 43)}")
    add("authorization", "Authorization: Bearer {s}", r(URLSAFE, 40))
    add("authorization", "curl -H 'Authorization: Basic {s}' https://x", base64.b64encode(f"user:{r(B62, 12)}".encode()).decode())
    add("authorization", "Authorization: token {s}", r(HEX, 40))
    add("url_credentials", "https://deploy:{s}@git.example.com/repo.git", r(B62, 16))
    add("db_url_password", "DATABASE_URL=postgres://app:{s}@db.internal:5432/app", r(B62, 18))
    add("db_url_password", "mongodb+srv://root:{s}@cluster0.mongodb.net/test", r(B62, 14))
    add("db_url_password", "redis://default:{s}@cache:6379/0", r(B62, 20))
    add("secret_assignment", "DB_PASSWORD={s}", r(B62 + "!@#%^", 14))
    add("secret_assignment", "password: {s}", r(B62, 12))
    add("secret_assignment", '{{"client_secret": "{s}"}}', r(B62, 24))
    add("secret_assignment", "https://api.example.com/v1/items?access_token={s}&page=2", r(B62, 32))
    add("secret_assignment", "deploy --api-key {s} --region eu", r(B62, 28))
    add("secret_assignment", "app --db-password={s}", r(B62, 16))
    add("secret_assignment", "secret_key = \"{s}\"", r(B62, 40))
    add("azure_connection_string", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={s};EndpointSuffix=core.windows.net", r(B62 + "+/", 86) + "==")
    add("azure_storage_key", "AZURE_STORAGE_KEY={s}", r(B62 + "+/", 86) + "==")
    add("twilio", "TWILIO_ACCOUNT_SID={s}", "AC" + r(HEX, 32))
    add("twilio", "twilio auth token: {s}", r(HEX, 32))
    add("sendgrid", "SENDGRID_API_KEY={s}", "SG." + r(URLSAFE, 22) + "." + r(URLSAFE, 43))
    add("npm", "//registry.npmjs.org/:_authToken={s}", "npm_" + r(B62, 36))
    add("npm", "NPM_TOKEN {s}", "npm_" + r(B62, 36))
    add("pypi", "password = {s}", "pypi-AgEIcHlwaS5vcmc" + r(URLSAFE, 70))
    add("pypi", "TWINE: {s}", "pypi-AgEIcHlwaS5vcmc" + r(URLSAFE, 70))
    add("huggingface", "HF_TOKEN={s}", "hf_" + r(B62, 34))
    add("linear", "LINEAR_API_KEY={s}", "lin_api_" + r(B62, 40))
    add("mailchimp", "mailchimp {s}", r(HEX, 32) + "-us12")
    return out


NEGATIVES = [
    "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 Merge branch 'main'",
    "fixes 9fceb02d0ae598e95dc970b74767f19372d61af8 and e83c5163316f89bfbde7d9ab23ca2e25604af290",
    "request id 123e4567-e89b-12d3-a456-426614174000 completed",
    "uuid: f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "the skeleton crew arrived at task-ant headquarters",
    "pip install sk-learn sk-video; the sk-ant colony",
    "task-antelope-migration-plan-for-the-savanna-region",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "Please enter your password below.",
    "The token bucket refills every second.",
    "password: ${secrets:db_password}",
    "api_key: {{secret:github}}",
    "token_count: 1532",
    "max_tokens = 4096",
    "Authorization header missing",
    "see https://docs.python.org/3/library/secrets.html",
    "version 1.2.3-beta+build.5 released 2024-05-01T12:00:00Z",
    "def get_password(user): return vault.lookup(user)",
    "The secret of good writing is rewriting.",
    "AKIA is the prefix AWS uses for access keys",
    "color: #ff00ff; background: #00ff00;",
    "base64 of hello is aGVsbG8=",
    "https://example.com/path?page=2&sort=desc",
    "postgres://localhost:5432/app",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----",
]


def build(seed: int = 4) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for label, text, secret in fakes(rng):
        rows.append({"label": label, "text": text, "secrets": [secret], "keep": []})
    for text in NEGATIVES:
        rows.append({"label": None, "text": text, "secrets": [], "keep": [text]})
    return rows


def mixed_corpus(size: int, seed: int = 7, secret_every: int = 1024) -> str:
    """``size`` characters of logs, JSON, code and prose with about one secret per ``secret_every``."""
    rng = random.Random(seed)
    pool: list[Callable[[], str]] = []
    words = (
        "the request completed with status ok while the worker retried the job after a timeout "
        "and the user opened the dashboard to review the latest deployment notes for release"
    ).split()

    def prose() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + ".\n"

    def log() -> str:
        return (
            f"2024-05-{rng.randint(1, 28):02d}T12:{rng.randint(0, 59):02d}:00Z INFO worker={rng.randint(1, 9)} "
            f"req={rand(rng, HEX, 8)}-{rand(rng, HEX, 4)} path=/api/v1/items?page={rng.randint(1, 9)} took={rng.randint(1, 900)}ms\n"
        )

    def js() -> str:
        return json.dumps({"id": rng.randint(1, 10**6), "user": rng.choice(words), "tags": rng.sample(words, 3), "sha": rand(rng, HEX, 40)}) + "\n"

    def code() -> str:
        name = rng.choice(words)
        return f"def {name}_{rng.randint(1, 99)}(value):\n    return value.{rng.choice(words)}() + {rng.randint(0, 9)}\n"

    pool.extend([prose, log, js, code])
    parts: list[str] = []
    total = 0
    next_secret = secret_every
    all_fakes = fakes(rng)
    while total < size:
        chunk = rng.choice(pool)()
        if total >= next_secret:
            chunk = rng.choice(all_fakes)[1] + "\n" + chunk
            next_secret += secret_every
        parts.append(chunk)
        total += len(chunk)
    return "".join(parts)[:size]


if __name__ == "__main__":
    target = Path(__file__).with_name("corpus.jsonl")
    with target.open("w", encoding="utf-8") as fh:
        for row in build():
            fh.write(json.dumps(row) + "\n")
    print(f"wrote {target}")
