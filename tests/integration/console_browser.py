#!/usr/bin/env python3
"""The console in a real browser: Debian's Chromium, headless, driven by
Playwright for Python (executable_path=/usr/bin/chromium: nothing is
downloaded). Run by console.sh with the data it made; exits 1 with the first
failed check, and leaves a screenshot of every page in --out."""
import argparse
import os
import sys
import urllib.parse

from playwright.sync_api import sync_playwright

HOSTILE1 = "<img src=x onerror=alert(1)>.bin"
HOSTILE2 = "q\"uo'te <svg onload=alert(2)>.bin"


def main():
    ap = argparse.ArgumentParser()
    for a in ("base", "token", "bucket", "alert", "plan", "run", "out"):
        ap.add_argument("--" + a, required=True)
    a = ap.parse_args()
    checks = 0
    dialogs, errors = [], []

    def check(cond, what):
        nonlocal checks
        checks += 1
        if not cond:
            print("console_browser.py: FAILED: %s" % what, file=sys.stderr)
            sys.exit(1)

    def shot(page, name):
        path = os.path.join(a.out, name + ".png")
        page.screenshot(path=path, full_page=True)

    q = lambda s: urllib.parse.quote(s, safe="")
    model = "s3://%s/artifacts/churn-model/v1.0.0/model.joblib" % a.bucket
    raw = "s3://%s/datasets/raw/customers.csv" % a.bucket
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox"])
        ctx = browser.new_context(extra_http_headers={"Authorization": "Bearer " + a.token},
                                  viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))

        # home
        r = page.goto(a.base + "/")
        check(r.status == 200, "home answers 200, not %d" % r.status)
        check(page.locator("h1").inner_text() == "Overview", "home has its heading")
        check(page.get_by_role("link", name=a.bucket).count() >= 1, "home lists the bucket")
        shot(page, "home")

        # search: the hostile names are text, no element is made of them
        page.goto(a.base + "/search?q=&bucket=" + q(a.bucket))
        check(page.get_by_text(HOSTILE1, exact=False).count() >= 1, "the <img> key shows as text")
        check(page.get_by_text(HOSTILE2, exact=False).count() >= 1,
              "the key with quotes and <svg onload> shows as text")
        check(page.locator("img").count() == 0, "no <img> element was made from a key")
        check(page.locator("main table svg").count() == 0, "no <svg> element was made from a key")
        shot(page, "search")

        # the model's object page, then its lineage, then a node's link
        page.goto(a.base + "/object?uri=" + q(model))
        check(page.locator("h1").inner_text() == model, "the object page names the model")
        check(page.get_by_text("features.parquet").count() >= 1,
              "the object page shows what the model was made from")
        shot(page, "object")
        page.get_by_role("link", name="lineage upstream").click()
        page.wait_for_load_state()
        check("/lineage" in page.url, "the lineage link leads to the lineage page")
        svg = page.locator("div.graph svg")
        check(svg.count() == 1, "the lineage page draws the graph")
        check("customers.csv" in svg.text_content(), "the graph reaches the raw data")
        shot(page, "lineage")
        node = page.locator("div.graph svg a").filter(has_text="features.parquet").first
        check(node.count() == 1, "the features node is a link")
        node.click()
        page.wait_for_load_state()
        check("/object" in page.url and "features.parquet" in urllib.parse.unquote(page.url),
              "a node links to its object page (%s)" % page.url)
        check(page.locator("h1").inner_text().endswith("/features/churn/v2/features.parquet"),
              "that page is the features' object page")

        # the raw data's downstream holds the hostile names: text in the SVG too
        page.goto(a.base + "/lineage?dir=down&depth=3&uri=" + q(raw))
        text = page.locator("div.graph svg").text_content()
        check(HOSTILE1 in text and HOSTILE2 in text, "the hostile names are labels in the graph")
        check(page.locator("img").count() == 0 and page.locator("div.graph svg svg").count() == 0
              and page.locator("script").count() == 0, "no element was made from a label")
        shot(page, "lineage-hostile")

        # the alert and its blast radius
        page.goto(a.base + "/alerts")
        page.get_by_role("link", name=a.alert, exact=True).first.click()
        page.wait_for_load_state()
        check("/alert?id=" + a.alert in page.url, "an alert's link leads to its page")
        h2 = page.locator("h2").first.inner_text()
        check(h2.startswith("Blast radius:"), "the alert page shows a blast radius")
        n = int(h2.split(":")[1].split()[0])
        check(n >= 2, "the blast radius holds the features and the model (%d)" % n)
        check(page.locator("div.graph svg").count() == 1, "the blast radius is drawn")
        check(page.get_by_role("link", name=model).count() >= 1,
              "the blast radius lists the model")
        shot(page, "alert")

        # retention: a plan with its cap arithmetic, a run with its audit
        page.goto(a.base + "/retention")
        shot(page, "retention")
        page.goto(a.base + "/plan?id=" + a.plan)
        check(page.get_by_text("Safety cap").count() == 1, "the plan shows the cap arithmetic")
        check(page.get_by_text("tmp/scratch.bin", exact=False).count() >= 1,
              "the plan lists its deletion")
        shot(page, "plan")
        page.goto(a.base + "/run?id=" + a.run)
        check(page.locator("td span.ok, td span").filter(has_text="deleted").count() >= 1,
              "the run's audit shows the deletion")
        shot(page, "run")

        check(not dialogs, "no script ran (dialogs: %r)" % dialogs)
        check(not errors, "no page error (%r)" % errors)

        # without the token
        bare = browser.new_context()
        r = bare.new_page().goto(a.base + "/")
        check(r.status == 401, "a browser without the token gets 401, not %d" % r.status)
        browser.close()
    print("console_browser.py: %d checks passed" % checks)


if __name__ == "__main__":
    main()
