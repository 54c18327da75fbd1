#!/usr/bin/env python3
"""browser_test.py: the dashboard in a real browser (Debian's chromium + chromium-driver,
driven by Selenium from a venv). The real mamad serves web/ at /, with a micro model; a
study arrives over DICOM (storescu) while the page is open.

Checks: a wrong token is refused; sign-in with the read token; the worklist fills live as
the study arrives and is scored (from the changes feed); the study page shows four
thumbnails (decoded images, not placeholders) and the per-breast and study scores equal to
REST's result; the token is never in a URL; the CSP header is strict. Screenshots go to
<build>/test-artifacts/browser/ (kept after the run).

Selenium comes from <build>/venv-browser (scripts/test.sh makes it); without selenium,
chromium or chromedriver the test is skipped with the reason.
"""
import os
import shutil
import subprocess
import sys

BUILD = os.environ.get("MAMA_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "../../build"))
try:
    import selenium  # noqa: F401
except ImportError:
    venv_py = os.path.join(BUILD, "venv-browser", "bin", "python")
    if os.path.exists(venv_py) and os.path.abspath(sys.prefix) != os.path.abspath(os.path.join(BUILD, "venv-browser")):
        os.execv(venv_py, [venv_py] + sys.argv)
    print("SKIP: selenium is not installed (scripts/test.sh makes %s/venv-browser)" % BUILD)
    sys.exit(77)
for tool in ("chromium", "chromedriver"):
    if not shutil.which(tool):
        print("SKIP: %s not installed (apt install chromium chromium-driver)" % tool)
        sys.exit(77)

import time  # noqa: E402
import urllib.request  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svc import READ_TOKEN, Daemon, acked, check, phantom, run_case, study_uid  # noqa: E402
from results_test import VIEWS, micro_model  # noqa: E402

SOURCE = os.environ.get("MAMA_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "../.."))
SHOTS = os.path.join(BUILD, "test-artifacts", "browser")


def browser():
    os.environ["SE_OFFLINE"] = "true"   # Selenium Manager must not try to download a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1100,1300", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    print("screenshot:", path)


def dashboard(work, daemons):
    d = Daemon(work + "/d", {"scoring.model": micro_model(work), "scoring.workers": "1",
                             "rest.web_dir": os.path.join(SOURCE, "web")})
    daemons.append(d.start())
    base = "http://127.0.0.1:%d/" % d.rest_port
    with urllib.request.urlopen(base, timeout=10) as r:
        csp = r.headers.get("Content-Security-Policy", "")
    check("script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp,
          "/ has a strict CSP (%s)" % csp)
    drv = browser()
    try:
        wait = WebDriverWait(drv, 60, poll_frequency=0.1)
        drv.get(base)
        wait.until(lambda b: b.find_element(By.ID, "token").is_displayed())
        drv.find_element(By.ID, "token").send_keys("wrong-token-" + "x" * 20)
        drv.find_element(By.ID, "signin").click()
        wait.until(lambda b: "refused" in b.find_element(By.ID, "signin-error").text)
        check(not drv.find_element(By.ID, "worklist-view").is_displayed(), "a wrong token is refused")
        shot(drv, "1-wrong-token")
        drv.find_element(By.ID, "token").send_keys(READ_TOKEN)
        drv.find_element(By.ID, "signin").click()
        wait.until(lambda b: b.find_element(By.ID, "worklist-view").is_displayed())
        check(len(drv.find_elements(By.CSS_SELECTOR, "#worklist tbody tr")) == 0, "signed in: an empty worklist")
        # a study arrives while the page is open
        sd = phantom(work + "/ph", "--count", "1", "--seed", "51")[0]
        files = [os.path.join(sd, v + ".dcm") for v in VIEWS.values()]
        uid = study_uid(files[0])
        rc, out = d.store(files)
        check(rc == 0 and acked(out) == 4, "storescu: four views stored")
        row = '#worklist tbody tr[data-uid="%s"]' % uid
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, row + " td.malignancy") and
                   b.find_element(By.CSS_SELECTOR, row + " td.malignancy").text != "")
        doc = d.study(uid)
        res = doc["latest_result"]["result"]
        cells = {c: drv.find_element(By.CSS_SELECTOR, row + " td." + c).text for c in
                 ("state", "views", "density", "birads", "malignancy")}
        want = res["study"]["tasks"]
        check(cells["state"] == "scored" and cells["views"] == "4/4", "the worklist filled live: %s" % cells)
        check(cells["density"] == want["density"]["prediction"] and cells["birads"] == want["birads"]["prediction"]
              and cells["malignancy"] == "%.3f" % want["malignancy"]["probs"]["cancer"],
              "worklist scores are REST's study scores")
        # a second study: newest first by default, most suspicious first on request, filter by state
        sd2 = phantom(work + "/ph2", "--count", "1", "--seed", "52")[0]
        files2 = [os.path.join(sd2, v + ".dcm") for v in VIEWS.values()]
        uid2 = study_uid(files2[0])
        rc, out = d.store(files2)
        check(rc == 0 and acked(out) == 4, "a second study stored")
        row2 = '#worklist tbody tr[data-uid="%s"]' % uid2
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, row2 + " td.malignancy") and
                   b.find_element(By.CSS_SELECTOR, row2 + " td.malignancy").text != "")
        order = lambda: [r.get_attribute("data-uid") for r in drv.find_elements(By.CSS_SELECTOR, "#worklist tbody tr")]  # noqa: E731
        check(order() == [uid2, uid], "newest first")
        p = {u: d.study(u)["latest_result"]["result"]["study"]["tasks"]["malignancy"]["probs"]["cancer"]
             for u in (uid, uid2)}
        Select(drv.find_element(By.ID, "sort")).select_by_value("suspicion")
        check(order() == sorted((uid, uid2), key=lambda u: -p[u]), "sorted by suspicion (%s)" % p)
        Select(drv.find_element(By.ID, "state-filter")).select_by_value("receiving")
        check(order() == [], "filter receiving: none")
        Select(drv.find_element(By.ID, "state-filter")).select_by_value("scored")
        check(sorted(order()) == sorted((uid, uid2)), "filter scored: both")
        shot(drv, "2-worklist")
        drv.find_element(By.CSS_SELECTOR, row).click()
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "img.thumb.loaded")) == 4)
        sizes = drv.execute_script("return [...document.querySelectorAll('img.thumb')]"
                                   ".map(i => [i.dataset.view, i.naturalWidth, i.naturalHeight, i.src.slice(0, 5)])")
        check(len(sizes) == 4 and all(w > 0 and h > 0 and s == "blob:" for _, w, h, s in sizes),
              "the study page shows four decoded thumbnails from blob: URLs (%s)" % sizes)
        # scores equal to REST's: the page's values are REST's doubles, compared exactly
        for breast, tasks in [("L", res["breasts"]["L"]["tasks"]), ("R", res["breasts"]["R"]["tasks"]),
                              ("study", res["study"]["tasks"])]:
            tr = drv.find_element(By.CSS_SELECTOR, '#scores tr[data-breast="%s"]' % breast)
            got = float(tr.find_element(By.CSS_SELECTOR, 'td[data-task="malignancy"]').get_attribute("data-value"))
            dens = tr.find_element(By.CSS_SELECTOR, 'td[data-task="density"]').text
            bir = tr.find_element(By.CSS_SELECTOR, 'td[data-task="birads"]').text
            check(got == tasks["malignancy"]["probs"]["cancer"] and dens == tasks["density"]["prediction"] and
                  bir == tasks["birads"]["prediction"], "%s scores on the page are REST's" % breast)
        versions = drv.find_elements(By.CSS_SELECTOR, "#versions tbody tr")  # of the first study
        check(len(versions) == 1, "one result version listed")
        check("untrained" in drv.find_element(By.ID, "model-warning").text, "the untrained-model warning is shown")
        shot(drv, "3-study")
        check(READ_TOKEN not in drv.current_url and READ_TOKEN not in drv.page_source,
              "the token is not in the URL or the page")
        check(READ_TOKEN not in d.log(), "the token is not in mamad's log")
    finally:
        drv.quit()
    check(d.stop() == 0, "clean stop")


if __name__ == "__main__":
    sys.exit(run_case({"dashboard": dashboard}, "dashboard"))
