#!/usr/bin/env python3
"""Drives the demo's tracking server over HTTP with traffic that behaves like the agents
that really fetch tracking pixels and follow links, and like the people who read mail.

  demo_traffic.py BASE_URL TRACKING_HOST MANIFEST APPLE_RANGES [--seed N]
                  [--max-requests N] [--max-seconds S]

MANIFEST lines: "<recipient domain> <file of the rewritten message>". Tokens are taken
from the rewritten HTML (the pixel, the wrapped links, the honeypot). The server must
trust 127.0.0.1 as a proxy: every request carries X-Forwarded-For with the address the
real agent would come from. Loopback only; bounded by count and time.

Two phases, as mail is read in real life:
  delivery  right after sending: Apple Mail Privacy Protection prefetches every pixel
            for iCloud recipients from Apple's relay space with "Mozilla/5.0"; Gmail's
            prefetcher loads some pixels from Google space; Microsoft Defender Safe Links
            follows every link of mail to Microsoft 365 tenants from 40.107.x.x within
            seconds; Proofpoint's sandbox follows links (and the hidden honeypot) for
            Proofpoint-fronted domains.
  reading   later: people open through their real clients (Gmail through Google's image
            proxy, Outlook, Thunderbird, Apple Mail with protection off), some click
            through their browsers from ordinary ISP addresses, and links some of them
            paste into Slack or Teams are unfurled by the preview bots.
"""
import http.client
import ipaddress
import random
import re
import sys
import threading
import time
from urllib.parse import urlsplit

UA = {
    "mpp": "Mozilla/5.0",
    "gmail_proxy": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "gmail_prefetch": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0",
    "safe_links": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "proofpoint": "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "outlook": "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "thunderbird": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
    "apple_mail": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "safari": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "android": "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
    "firefox": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "slack": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "teams": "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
}
# Ordinary access-network space (cable and DSL operators), for people.
ISP = ["73.162.0.0/16", "24.5.0.0/16", "71.198.0.0/16", "86.12.0.0/16", "92.40.0.0/16",
       "174.64.0.0/16", "109.150.0.0/16", "99.46.0.0/16"]
GOOGLE_PROXY = "66.102.0.0/20"     # Google's image proxy (goog.json)
GOOGLE_PREFETCH = "66.249.80.0/20"  # Google space of the Gmail prefetcher
SAFE_LINKS = "40.107.0.0/16"       # Exchange Online Protection
PROOFPOINT = "148.163.128.0/19"     # Proofpoint (AS 26211)
SLACK = "54.209.0.0/16"            # AWS, where Slack's unfurler runs
TEAMS = "52.112.0.0/14"            # Microsoft cloud, Teams preview


def addr(rng, cidr):
    n = ipaddress.ip_network(cidr)
    return str(n[rng.randrange(1, n.num_addresses - 1)])


def load_apple(path):
    nets = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            n = ipaddress.ip_network(line, strict=False)
            if n.version == 4 and n.num_addresses >= 4:
                nets.append(n)
    return nets


def kind_of(domain):
    if domain in ("icloud.com", "me.com", "mac.com"):
        return "icloud"
    if domain in ("gmail.com", "googlemail.com"):
        return "gmail"
    if domain in ("contoso-health.example", "northwind-clinic.example"):
        return "m365"
    if domain in ("fabrikam-care.example", "woodgrove-medical.example"):
        return "proofpoint"
    return "other"


class Driver:
    def __init__(self, base, host, max_requests, deadline):
        u = urlsplit(base)
        self.host, self.port = u.hostname, u.port
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("demo_traffic: the tracking server must be on loopback")
        self.tracking_host = host
        self.max_requests = max_requests
        self.deadline = deadline
        self.sent = 0
        self.by_status = {}
        self.lock = threading.Lock()

    def run(self, requests, threads=4):
        """requests: list of (path, ip, ua). Sent over keep-alive connections."""
        chunks = [requests[i::threads] for i in range(threads)]
        ts = [threading.Thread(target=self._worker, args=(c,)) for c in chunks]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def _worker(self, reqs):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        for path, ip, ua in reqs:
            with self.lock:
                if self.sent >= self.max_requests or time.time() > self.deadline:
                    break
                self.sent += 1
            for attempt in range(2):
                try:
                    conn.request("GET", path, headers={
                        "Host": self.tracking_host, "User-Agent": ua, "X-Forwarded-For": ip,
                        "Accept": "image/avif,image/webp,*/*" if path.startswith("/o/") else
                                  "text/html,application/xhtml+xml,*/*;q=0.8"})
                    r = conn.getresponse()
                    r.read()
                    with self.lock:
                        self.by_status[r.status] = self.by_status.get(r.status, 0) + 1
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        conn.close()


def main():
    args = sys.argv[1:]
    opts = {"--seed": "2026", "--max-requests": "40000", "--max-seconds": "300"}
    pos = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = args[i + 1]
            i += 2
        else:
            pos.append(args[i])
            i += 1
    base, host, manifest, apple_path = pos
    rng = random.Random(int(opts["--seed"]))
    start = time.time()
    drv = Driver(base, host, int(opts["--max-requests"]), start + float(opts["--max-seconds"]))
    apple = load_apple(apple_path)
    tok_re = re.compile(r"https?://[^/\"'\s]+/([och])/([A-Za-z0-9_-]+)")
    msgs = []
    for line in open(manifest):
        domain, path = line.split()
        toks = {"o": [], "c": [], "h": []}
        for route, t in tok_re.findall(open(path, encoding="utf-8", errors="replace").read()):
            toks[route].append("/%s/%s" % (route, t))
        msgs.append((kind_of(domain), toks))

    delivery, reading = [], []
    for kind, t in msgs:
        pix = t["o"][:1]
        links, honey = t["c"], t["h"][:1]
        if kind == "icloud":
            ap = apple[rng.randrange(len(apple))]
            ip = str(ap[rng.randrange(1, ap.num_addresses - 1)])
            delivery += [(p, ip, UA["mpp"]) for p in pix]
            if rng.random() < 0.25:  # MPP fetches again later, from another relay
                ap = apple[rng.randrange(len(apple))]
                reading += [(p, str(ap[1]), UA["mpp"]) for p in pix]
            if rng.random() < 0.12 and links:  # a person taps a link on the iPhone
                reading.append((rng.choice(links), addr(rng, rng.choice(ISP)), UA["iphone"]))
            if rng.random() < 0.08:  # protection off: Apple Mail loads the pixel itself
                reading += [(p, addr(rng, rng.choice(ISP)), UA["apple_mail"]) for p in pix]
        elif kind == "gmail":
            if rng.random() < 0.30:
                delivery += [(p, addr(rng, GOOGLE_PREFETCH), UA["gmail_prefetch"]) for p in pix]
            if rng.random() < 0.42:
                for _ in range(1 + (rng.random() < 0.3)):
                    reading += [(p, addr(rng, GOOGLE_PROXY), UA["gmail_proxy"]) for p in pix]
                if rng.random() < 0.30 and links:
                    reading.append((rng.choice(links), addr(rng, rng.choice(ISP)),
                                    UA[rng.choice(["chrome", "android", "firefox"])]))
        elif kind == "m365":
            if rng.random() < 0.85:  # Safe Links detonates every link within seconds
                for l in links:
                    delivery.append((l, addr(rng, SAFE_LINKS), UA["safe_links"]))
            if rng.random() < 0.33:
                reading += [(p, addr(rng, rng.choice(ISP)), UA["outlook"]) for p in pix]
                if rng.random() < 0.25 and links:
                    reading.append((rng.choice(links), addr(rng, rng.choice(ISP)), UA["chrome"]))
                    if rng.random() < 0.2:  # pasted into a Teams chat
                        reading.append((links[0], addr(rng, TEAMS), UA["teams"]))
        elif kind == "proofpoint":
            if rng.random() < 0.9:
                ip = addr(rng, PROOFPOINT)
                for l in links + honey:
                    delivery.append((l, ip, UA["proofpoint"]))
            if rng.random() < 0.30:
                reading += [(p, addr(rng, rng.choice(ISP)), UA[rng.choice(["outlook", "thunderbird"])])
                            for p in pix]
                if rng.random() < 0.25 and links:
                    reading.append((rng.choice(links), addr(rng, rng.choice(ISP)), UA["chrome"]))
        else:
            if rng.random() < 0.38:
                reading += [(p, addr(rng, rng.choice(ISP)), UA[rng.choice(["thunderbird", "outlook", "apple_mail"])])
                            for p in pix]
                if rng.random() < 0.3 and links:
                    l = rng.choice(links)
                    reading.append((l, addr(rng, rng.choice(ISP)), UA[rng.choice(["safari", "chrome"])]))
                    if rng.random() < 0.25:  # pasted into Slack, which unfurls it
                        reading.append((l, addr(rng, SLACK), UA["slack"]))

    rng.shuffle(delivery)
    drv.run(delivery)
    print("delivery: %d requests (Apple MPP, Gmail prefetch, Safe Links, Proofpoint)" % len(delivery))
    # People read later: past the first seconds after sending that only machines use,
    # and past the window in which an event next to a scanner's honeypot hit counts as
    # the scanner's (30 s by default): real readers come minutes or hours later.
    delivered = time.time()
    wait = max(12 - (delivered - start), 35 - (time.time() - delivered))
    print("waiting %.0f s: people read later than the scanners" % wait)
    if wait > 0:
        time.sleep(wait)
    rng.shuffle(reading)
    drv.run(reading)
    print("reading: %d requests (people, proxies, previews)" % len(reading))
    print("answers: %s; %d requests in %.1f s" % (
        ", ".join("%d x %d" % (n, s) for s, n in sorted(drv.by_status.items())), drv.sent,
        time.time() - start))
    if drv.sent < len(delivery) + len(reading):
        print("stopped at the request/time bound")


if __name__ == "__main__":
    main()
