#!/usr/bin/env python3
"""Writes SIZE bytes of deterministic CSV-like data (loan records) to PATH: usage gencsv.py PATH SIZE.

Columns mix ids, dates, categories, amounts and rates, so zstd -1 compresses it to roughly a third,
like real tabular data. Fixed seed: the same SIZE always gives the same bytes.
"""
import random
import sys


def main():
    path, size = sys.argv[1], int(sys.argv[2])
    rng = random.Random(20240501)
    regions = ["north", "south", "east", "west", "central", "overseas"]
    grades = ["A1", "A2", "B1", "B2", "C1", "C2", "D", "E"]
    status = ["current", "current", "current", "late_30", "late_60", "default", "paid_off"]
    purposes = ["car", "home_improvement", "debt_consolidation", "education", "medical", "business"]
    dates = [f"20{y:02d}-{m:02d}-{d:02d}" for y in range(15, 25) for m in range(1, 13) for d in range(1, 29)]
    # pools of 256 entries so one random byte picks one value
    pools = [
        [rng.choice(dates) for _ in range(256)],
        [rng.choice(regions) for _ in range(256)],
        [rng.choice(grades) for _ in range(256)],
        [rng.choice(status) for _ in range(256)],
        [rng.choice(purposes) for _ in range(256)],
        [f"{rng.randint(10, 95)}" for _ in range(256)],
    ]
    header = b"loan_id,customer_id,issue_date,region,grade,status,purpose,age,amount,rate,income,balance\n"
    written = 0
    loan = 10_000_000
    with open(path, "wb") as f:
        f.write(header)
        written += len(header)
        while written < size:
            n = 20_000
            picks = rng.randbytes(6 * n)
            amounts = [rng.randrange(100_000, 5_000_000) for _ in range(n)]
            rates = [rng.randrange(150, 2900) for _ in range(n)]
            custs = [rng.randrange(1_000_000) for _ in range(n)]
            rows = []
            for i in range(n):
                o = 6 * i
                a = amounts[i]
                rows.append(
                    f"{loan + i},C{custs[i]:06d},{pools[0][picks[o]]},{pools[1][picks[o + 1]]},"
                    f"{pools[2][picks[o + 2]]},{pools[3][picks[o + 3]]},{pools[4][picks[o + 4]]},"
                    f"{pools[5][picks[o + 5]]},{a // 100}.{a % 100:02d},{rates[i] // 100}.{rates[i] % 100:02d},"
                    f"{(a * 3) // 100 + 20000},{a // 250}.00\n")
            loan += n
            chunk = "".join(rows).encode()
            if written + len(chunk) > size:
                chunk = chunk[: size - written]
            f.write(chunk)
            written += len(chunk)


if __name__ == "__main__":
    main()
