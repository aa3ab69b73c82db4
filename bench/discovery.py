"""bench/discovery.sh's helper: signs the demo accounts in, and creates concerts through the
API, the real command path (nginx, the pool, the Concert decider, the event store and its
inline projections; the availability shards follow from the projection daemon's process
manager), as many threads at a time as asked.

    python3 bench/discovery.py --base URL sessions            -> "cookie bearer organiser-bearer"
    python3 bench/discovery.py --base URL create --count N --threads T --seed S [--cancel-share 0.01]
                                                              -> JSON: created, cancelled, seconds, per_second

The generated concerts: artists made of two word lists (with Polish, German, Nordic and
Spanish letters, so that accents are searched), tour titles, one of 36 cities in 14 time zones
with its venues, starting between two days and three years from now at 18:00 to 21:30 on the
venue's clock, one or two ticket levels of 20 to 100 tickets (one availability shard each).
No generated text contains "beyon" (the searches measured look for the demo's Beyoncé).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import requests

PASSWORD = "encore-demo-2026"

FIRST = ["Marta", "Zofia", "Łukasz", "Jörg", "Søren", "Björk", "Agnès", "José", "Anaïs", "Ewa", "Kasia", "Piotr",
         "The Velvet", "The Silent", "Golden", "Electric", "Midnight", "Northern", "Crimson", "Paper", "Wild",
         "Lunar", "Neon", "Broken", "Glass", "Iron", "Little", "Big", "Royal", "Blue", "Scarlet", "Quiet",
         "Żółta", "Śląska", "Große", "Ñandú", "Ørsted", "Coco", "Frank", "Nina", "Otto", "Ada", "Hugo", "Leo",
         "Mia", "Ola", "Tomasz", "Renée", "Zoë", "Chloé", "Dvořák", "Smetana", "Grażyna", "Małgorzata"]
SECOND = ["Owls", "Kowalska", "Nowak", "Quartet", "Orchestra", "Band", "Collective", "Trio", "Sisters", "Brothers",
          "Machines", "Lights", "Rivers", "Wolves", "Foxes", "Echoes", "Garden", "Harbour", "Fields", "Stones",
          "Wiśniewska", "Müller", "Sørensen", "Peña", "Ensemble", "Choir", "Project", "Society", "Club", "Parade",
          "Dreams", "Hearts", "Kings", "Queens", "Ghosts", "Satellites", "Radio", "Cinema", "Express", "Circus"]
TOURS = ["", "World Tour", "Farewell Tour", "Live", "Unplugged", "Greatest Hits", "Summer Nights", "Winter Songs",
         "Acoustic Evening", "Anniversary Tour", "Reunion", "New Album Tour", "Open Air", "Festival Set"]
CITIES = [  # city, zone, venues
    ("Warsaw", "Europe/Warsaw", ["PGE Narodowy", "Torwar", "Stodoła", "Progresja"]),
    ("Kraków", "Europe/Warsaw", ["Tauron Arena", "ICE Kraków", "Klub Studio"]),
    ("Gdańsk", "Europe/Warsaw", ["Ergo Arena", "Stadion Energa", "B90"]),
    ("Wrocław", "Europe/Warsaw", ["Hala Stulecia", "A2", "Tarczyński Arena"]),
    ("Łódź", "Europe/Warsaw", ["Atlas Arena", "Wytwórnia"]),
    ("Poznań", "Europe/Warsaw", ["Enea Stadion", "Tama", "Arena"]),
    ("Katowice", "Europe/Warsaw", ["Spodek", "NOSPR", "MCK"]),
    ("Berlin", "Europe/Berlin", ["Waldbühne", "Uber Arena", "Columbiahalle", "Tempodrom"]),
    ("München", "Europe/Berlin", ["Olympiahalle", "Zenith", "Tonhalle"]),
    ("Köln", "Europe/Berlin", ["Lanxess Arena", "Palladium", "E-Werk"]),
    ("Hamburg", "Europe/Berlin", ["Elbphilharmonie", "Sporthalle", "Docks"]),
    ("Praha", "Europe/Prague", ["O2 Arena", "Lucerna", "Forum Karlín"]),
    ("Wien", "Europe/Vienna", ["Stadthalle", "Gasometer", "Arena Wien"]),
    ("Zürich", "Europe/Zurich", ["Hallenstadion", "X-tra", "Volkshaus"]),
    ("Paris", "Europe/Paris", ["Accor Arena", "Olympia", "Zénith", "La Cigale"]),
    ("Lyon", "Europe/Paris", ["LDLC Arena", "Le Transbordeur"]),
    ("Madrid", "Europe/Madrid", ["WiZink Center", "La Riviera", "Movistar Arena"]),
    ("Barcelona", "Europe/Madrid", ["Palau Sant Jordi", "Razzmatazz", "Sala Apolo"]),
    ("Lisboa", "Europe/Lisbon", ["Altice Arena", "Coliseu", "Campo Pequeno"]),
    ("London", "Europe/London", ["O2 Arena", "Wembley", "Brixton Academy", "Royal Albert Hall"]),
    ("Manchester", "Europe/London", ["AO Arena", "Albert Hall", "Victoria Warehouse"]),
    ("Dublin", "Europe/Dublin", ["3Arena", "Vicar Street", "Olympia Theatre"]),
    ("København", "Europe/Copenhagen", ["Royal Arena", "Vega", "DR Koncerthuset"]),
    ("Stockholm", "Europe/Stockholm", ["Avicii Arena", "Annexet", "Berns"]),
    ("Oslo", "Europe/Oslo", ["Spektrum", "Sentrum Scene", "Rockefeller"]),
    ("Helsinki", "Europe/Helsinki", ["Hartwall Arena", "Tavastia", "Kulttuuritalo"]),
    ("Vilnius", "Europe/Vilnius", ["Avia Solutions Arena", "Compensa"]),
    ("Budapest", "Europe/Budapest", ["MVM Dome", "Akvárium", "Barba Negra"]),
    ("New York", "America/New_York", ["Madison Square Garden", "Radio City", "Terminal 5"]),
    ("Chicago", "America/Chicago", ["United Center", "Metro", "Aragon Ballroom"]),
    ("Los Angeles", "America/Los_Angeles", ["Kia Forum", "Hollywood Bowl", "The Wiltern"]),
    ("Toronto", "America/Toronto", ["Scotiabank Arena", "Massey Hall", "History"]),
    ("São Paulo", "America/Sao_Paulo", ["Allianz Parque", "Espaço Unimed", "Audio"]),
    ("Tokyo", "Asia/Tokyo", ["Tokyo Dome", "Budokan", "Zepp Haneda"]),
    ("Sydney", "Australia/Sydney", ["Qudos Bank Arena", "Enmore Theatre", "Opera House"]),
    ("Mumbai", "Asia/Kolkata", ["NSCI Dome", "Jio World Garden"]),
]


def signed_in(base: str, email: str) -> tuple[requests.Session, str]:
    """A browser-like session (cookie, through the form) and a bearer token."""
    browser = requests.Session()
    page = browser.get(base + "/signin", timeout=30)
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
    answer = browser.post(base + "/signin", data={"email": email, "password": PASSWORD, "_csrf": csrf},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text[:300]
    token = requests.post(base + "/api/sessions", json={"email": email, "password": PASSWORD}, timeout=30)
    assert token.status_code == 201, token.text[:300]
    return browser, token.json()["token"]


def concert(rng: random.Random, now: datetime) -> dict:
    city, zone, venues = rng.choice(CITIES)
    day = (now + timedelta(days=rng.uniform(2, 3 * 365))).astimezone(ZoneInfo(zone)).date()
    local = datetime(day.year, day.month, day.day, rng.choice([18, 19, 20, 21]), rng.choice([0, 30]),
                     tzinfo=ZoneInfo(zone))
    levels = [{"name": "Floor", "capacity": rng.randint(20, 100), "price": rng.randint(50, 400) * 100}]
    if rng.random() < 0.5:
        levels.append({"name": "Balcony", "capacity": rng.randint(20, 100), "price": rng.randint(30, 200) * 100})
    artist = f"{rng.choice(FIRST)} {rng.choice(SECOND)}"
    assert "beyon" not in artist.lower()
    return {"artist": artist, "title": rng.choice(TOURS), "venue": rng.choice(venues), "city": city,
            "startsAt": local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": zone,
            "currency": "EUR", "ticketLevels": levels}


def create(base: str, token: str, count: int, threads: int, seed: int, cancel_share: float) -> dict:
    now = datetime.now(timezone.utc)
    counter = {"next": 0, "created": 0, "cancelled": 0, "errors": []}
    lock = threading.Lock()

    def work(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        with requests.Session() as http:
            http.headers["Authorization"] = "Bearer " + token
            while True:
                with lock:
                    if counter["next"] >= count or len(counter["errors"]) > 10:
                        return
                    counter["next"] += 1
                response = http.post(base + "/api/concerts", json=concert(rng, now), timeout=60)
                if response.status_code != 201:
                    with lock:
                        counter["errors"].append(f"{response.status_code} {response.text[:200]}")
                    continue
                cancelled = False
                if rng.random() < cancel_share:
                    cid = response.json()["concert"]["id"]
                    cancelled = http.post(f"{base}/api/concerts/{cid}/cancel", timeout=60).status_code == 200
                with lock:
                    counter["created"] += 1
                    counter["cancelled"] += int(cancelled)

    started = time.monotonic()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.monotonic() - started
    if counter["errors"]:
        print("\n".join(counter["errors"][:10]), file=sys.stderr)
        sys.exit(1)
    return {"created": counter["created"], "cancelled": counter["cancelled"], "seconds": round(seconds, 1),
            "per_second": round(counter["created"] / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sessions")
    made = sub.add_parser("create")
    made.add_argument("--count", type=int, required=True)
    made.add_argument("--threads", type=int, default=8)
    made.add_argument("--seed", type=int, default=25)
    made.add_argument("--cancel-share", type=float, default=0.01)
    made.add_argument("--token", required=True)
    args = parser.parse_args()
    if args.command == "sessions":
        customer, bearer = signed_in(args.base, "customer@encore.test")
        _, organiser = signed_in(args.base, "organiser@encore.test")
        print(customer.cookies["encore_session"], bearer, organiser)
    else:
        print(json.dumps(create(args.base, args.token, args.count, args.threads, args.seed, args.cancel_share)))


if __name__ == "__main__":
    main()
