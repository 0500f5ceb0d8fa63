#!/usr/bin/python3
"""web-screenshot.py [OUT.png]: a picture of the web client in use, for the docs
(docs/web-client.png by default). Starts build/tcpchatd on free loopback ports, has a few
plain IRC clients chat, logs a headless Chromium in and photographs it at 1200x750.
Needs chromium, chromium-driver and python3-selenium; not part of the test suite."""
import os
import socket
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "web-client.png")
TIMEOUT = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    deadline = time.time() + TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


class Bot:
    """A plain IRC client that says things; reads only to stay registered."""

    def __init__(self, port, nick):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.nick = nick
        self.send("NICK %s" % nick)
        self.send("USER %s 0 * :%s" % (nick, nick))
        self.until(" 366 ")

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def until(self, text):
        buf = b""
        while text.encode() not in buf:
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("%s: closed" % self.nick)
            buf += data

    def say(self, target, text):
        self.send("PRIVMSG %s :%s" % (target, text))
        self.send("PING :sync")
        self.until("PONG")


def main():
    port, http_port = free_port(), free_port()
    data = tempfile.mkdtemp(prefix="tcpchat-shot-")
    args = [os.path.join(ROOT, "build", "tcpchatd"), "--bind", "127.0.0.1", "--port", str(port),
            "--http-port", str(http_port), "--data-dir", data, "--server-name", "chat.example",
            "--ip-exempt", "127.0.0.0/8"] + (["--allow-root"] if os.geteuid() == 0 else [])
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = None
    try:
        wait_port(port)
        wait_port(http_port)
        alice, bob, carol = Bot(port, "alice"), Bot(port, "bob"), Bot(port, "carol")
        alice.send("TOPIC #lobby :Welcome to tcpchat · be nice · release notes: https://example.org/tcpchat/0.1")
        alice.say("#lobby", "morning all")
        bob.say("#lobby", "morning! did the 0.1 build finish?")
        alice.say("#lobby", "yes, packages are at https://example.org/tcpchat/0.1")
        carol.say("#lobby", "\x01ACTION downloads it\x01")
        bob.say("#lobby", "the web client works on my phone too")
        carol.send("JOIN #dev")
        carol.until(" 366 ")

        opts = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1200,750", "--hide-scrollbars", "--force-device-scale-factor=1"):
            opts.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        # The page itself 1200x750 (the window size counts the browser's own frame).
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1200, "height": 750, "deviceScaleFactor": 1,
                                "mobile": False})
        wait = WebDriverWait(driver, TIMEOUT, poll_frequency=0.05)
        driver.get("http://127.0.0.1:%d/" % http_port)
        driver.find_element(By.ID, "login-nick").send_keys("wanda")
        driver.find_element(By.ID, "login-submit").click()
        wait.until(lambda d: "the web client works" in d.find_element(By.ID, "logs").text)
        box = driver.find_element(By.ID, "input")
        box.send_keys("/join #dev", Keys.ENTER)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.window-button[data-window="#dev"]'))
        driver.find_element(By.CSS_SELECTOR, '.window-button[data-window="#lobby"]').click()
        box.send_keys("nice! I am trying it right now", Keys.ENTER)
        wait.until(lambda d: "trying it right now" in d.find_element(By.ID, "logs").text)
        dave = Bot(port, "dave")  # noqa: F841 (stays connected for the picture)
        alice.say("#lobby", "welcome dave")
        carol.say("#dev", "wanda: could you review the reconnect change?")
        carol.say("#dev", "it fetches what was missed with CHATHISTORY AFTER")
        bob.say("wanda", "lunch later?")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.window-button[data-window="bob"]'))
        box.send_keys("da", Keys.TAB, "hi")  # a half-typed reply, to show nick completion
        time.sleep(0.3)  # let the last layout settle before the picture
        driver.save_screenshot(OUT)
        print("wrote", OUT)
    finally:
        if driver:
            driver.quit()
        server.terminate()
        server.wait(timeout=TIMEOUT)


if __name__ == "__main__":
    main()
