#!/usr/bin/python3
"""Drives awl's status page in a real headless Chromium (Debian's
chromium and chromium-driver, through Selenium), for tests/tests/status_page.rs.

Usage: page.py URL. Loads the page, waits until its event stream is live,
then records every (system, state) the page shows and whether a transfer
bar showed in a system's row, with a MutationObserver in the page (nothing
is sampled: every change of the table is seen). Prints READY, then answers
commands read one per line on stdin:

  seen SYSTEM STATE SECONDS   wait until the page has shown SYSTEM in STATE
                              -> OK <json of everything seen> | TIMEOUT <json> <table text>
  forget                      start recording afresh -> FORGOT
  row SYSTEM                  -> ROW <json: state, class, cells' text, bars>
  discovered MAC SECONDS      wait until the Discovered table has a row for MAC
                              -> OK <json: its cells' text> | TIMEOUT <json of the page's text>
  shot PATH                   a PNG of the page -> SHOT
  quit
"""
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

RECORD = """
window.__seen = [];
const note = (k) => { if (!window.__seen.includes(k)) window.__seen.push(k); };
const rec = () => {
  for (const tr of document.querySelectorAll('tr[data-system]')) {
    note(tr.dataset.system + ' ' + tr.dataset.state);
    if (tr.querySelector('.bar')) note(tr.dataset.system + ' bar');
  }
};
rec();
new MutationObserver(rec).observe(document.getElementById('machines'),
  { childList: true, subtree: true, attributes: true });
"""

ROW = """
const tr = document.querySelector('tr[data-system="' + arguments[0] + '"]');
if (!tr) return null;
return { state: tr.dataset.state, class: tr.className,
         cells: [...tr.children].map((td) => td.innerText),
         bars: tr.querySelectorAll('.bar').length };
"""


def main():
    url = sys.argv[1]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=420,760"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script("return document.getElementById('link').className") == "live")
        driver.execute_script(RECORD)
        print("READY", flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "seen":
                system, state, seconds = words[1], words[2], float(words[3])
                want = system + " " + state
                try:
                    WebDriverWait(driver, seconds, poll_frequency=0.2).until(
                        lambda d: want in d.execute_script("return window.__seen"))
                    print("OK", json.dumps(driver.execute_script("return window.__seen")), flush=True)
                except Exception:
                    table = driver.execute_script("return document.body.innerText")
                    seen = json.dumps(driver.execute_script("return window.__seen"))
                    print("TIMEOUT", seen, json.dumps(table), flush=True)
            elif words[0] == "forget":
                driver.execute_script("window.__seen.length = 0")
                print("FORGOT", flush=True)
            elif words[0] == "discovered":
                mac, seconds = words[1], float(words[2])
                cells = ("const tr = document.querySelector('#discovered tr[data-mac=\"' + arguments[0] + '\"]');"
                         "return tr && [...tr.children].map((td) => td.innerText);")
                try:
                    WebDriverWait(driver, seconds, poll_frequency=0.2).until(
                        lambda d: d.execute_script(cells, mac))
                    print("OK", json.dumps(driver.execute_script(cells, mac)), flush=True)
                except Exception:
                    table = driver.execute_script("return document.body.innerText")
                    print("TIMEOUT", json.dumps(table), flush=True)
            elif words[0] == "row":
                print("ROW", json.dumps(driver.execute_script(ROW, words[1])), flush=True)
            elif words[0] == "shot":
                driver.save_screenshot(words[1])
                print("SHOT", flush=True)
            elif words[0] == "quit":
                break
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
