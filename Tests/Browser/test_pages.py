"""Browser tests of the outlet console and the citizen portal (issue 6).

Debian's chromium and chromium-driver, driven by selenium, against the real binary serving the
embedded database with its demo city. Run by scripts/browser-tests.sh (which starts the server);
screenshots go to $SCREENSHOTS.
"""

import os
import random
import struct
import tempfile
import unittest
import zlib

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ.get("CITIZENCARD_URL", "http://127.0.0.1:8080")
PASSWORD = os.environ.get("CITIZENCARD_DEMO_PASSWORD", "citizencard")
SCREENSHOTS = os.environ.get("SCREENSHOTS", "/tmp/citizencard-screenshots")
PHONE, DESK = 390, 1366
QUERY_PASSWORD = "135790"

# Every page checked for overflow and labels, at both widths.
CHECKED = []


def resident_id(region="330902", seq=None):
    """A valid GB 11643 resident ID number, born 1990 plus a random day."""
    seq = seq if seq is not None else random.randrange(1, 999, 2)
    day = random.randrange(1, 28)
    month = random.randrange(1, 12)
    body = f"{region}1990{month:02d}{day:02d}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body, weights))
    return body + "10X98765432"[total % 11]


def tiny_png():
    """A 2x2 grey PNG: a portrait the server accepts."""
    def chunk(kind, data):
        raw = kind + data
        return struct.pack(">I", len(data)) + raw + struct.pack(">I", zlib.crc32(raw) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def make_driver(width):
    options = Options()
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument("--disable-gpu")
    options.add_argument("--lang=zh-CN")
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    options.add_argument(f"--window-size={width},900")
    binary = os.environ.get("CHROMIUM")
    if binary:
        options.binary_location = binary
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    # Headless windows have a minimum width; the viewport is set exactly instead.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    return driver


class Page:
    """One browser: a session of one user."""

    def __init__(self, test, width=DESK):
        self.test = test
        self.driver = make_driver(width)
        self.width = width

    def close(self):
        self.driver.quit()

    def open(self, path):
        self.driver.get(BASE + path)
        return self

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def has(self, css):
        try:
            self.find(css)
            return True
        except NoSuchElementException:
            return False

    def fill(self, field_id, value):
        element = self.find(f"#{field_id}")
        element.clear()
        element.send_keys(value)
        return self

    def tick(self, field_id):
        element = self.find(f"#{field_id}")
        if not element.is_selected():
            element.click()
        return self

    def submit(self, form_css):
        """Submits the form and waits for the next page."""
        # A mark on the current document: gone once the next page has loaded.
        self.driver.execute_script("window.__citizencardBefore = true")
        self.find(f"{form_css} button[type=submit]").click()
        WebDriverWait(self.driver, 20).until(lambda driver: driver.execute_script(
            "return window.__citizencardBefore === undefined && document.readyState === 'complete'"))
        return self

    @property
    def text(self):
        return self.find("body").text

    @property
    def path(self):
        return self.driver.current_url[len(BASE):]

    def login(self, username):
        self.open("/console/login").fill("username", username).fill("password", PASSWORD)
        self.submit("form[action='/console/login']")
        self.test.assertEqual(self.path, "/console", f"log-in as {username} failed: {self.text}")
        return self

    def check(self, name):
        """Screenshot, then: nothing wider than the window, and every form control labelled."""
        os.makedirs(SCREENSHOTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}-{self.width}.png"))
        overflow = self.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        self.test.assertLessEqual(overflow, 0, f"{name} overflows by {overflow}px at {self.width}px")
        unlabelled = self.driver.execute_script("""
            return [...document.querySelectorAll('input, select, textarea')]
              .filter(e => e.type !== 'hidden')
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.name || e.id);""")
        self.test.assertEqual(unlabelled, [], f"{name}: form controls without a label")
        CHECKED.append((name, self.width))
        return self


class ConsoleTests(unittest.TestCase):
    def setUp(self):
        self.pages = []

    def tearDown(self):
        for page in self.pages:
            page.close()

    def browser(self, width=DESK):
        page = Page(self, width)
        self.pages.append(page)
        return page

    def test_operator_issues_loses_and_reissues(self):
        id_number = resident_id()
        clerk = self.browser()
        clerk.open("/")
        self.assertTrue(clerk.path.startswith("/console/login"), clerk.path)
        clerk.check("login")
        clerk.login("dh01.operator")
        self.assertEqual(clerk.path, "/console")
        clerk.check("console-home")
        # Register the person, with a portrait.
        clerk.open("/console/persons/new").check("person-register")
        clerk.fill("idNumber", id_number).fill("name", "浏览器测试").fill("phone", "13805801234")
        clerk.tick("socialInsurance").submit("form[action='/console/persons/new']")
        self.assertIn("人员已登记", clerk.text)
        self.assertNotIn(id_number, clerk.driver.current_url)
        with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as photo:
            photo.write(tiny_png())
        clerk.find("#photo").send_keys(photo.name)
        clerk.submit("form[enctype='multipart/form-data']")
        self.assertIn("照片已保存", clerk.text)
        clerk.check("person")
        person_path = clerk.path.split("?")[0]
        clerk.submit("form[action$='/applications']")
        self.assertIn("收费凭证", clerk.text)
        clerk.check("receipt")
        clerk.find("a[href^='/console/cards/']").click()
        card_path = clerk.path.split("?")[0]
        self.assertIn("待校核", clerk.text)
        # The supervisor verifies.
        supervisor = self.browser()
        supervisor.login("dh01.supervisor").open("/console/verification")
        supervisor.check("verification")
        supervisor.open(card_path).submit("form[action$='/verification']")
        self.assertIn("申领已校核通过", supervisor.text)
        # The center batches, records the factory's results, delivers.
        admin = self.browser()
        admin.login("admin").open("/console/production")
        admin.submit("form[action='/console/production']")
        admin.check("production-batch")
        numbers = [a.text for a in admin.driver.find_elements(By.CSS_SELECTOR, "tbody a[href^='/console/cards/']")]
        self.assertTrue(numbers)
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as results:
            results.write("cardNumber,outcome\n" + "\n".join(f"{n},ok" for n in numbers) + "\n")
        admin.find("#results").send_keys(results.name)
        admin.submit("form[action$='/results']")
        self.assertIn("制卡结果已导入", admin.text)
        admin.submit("form[action$='/delivery']")
        self.assertIn("卡片已配送至网点", admin.text)
        # Issue against the identity document, then a written loss, then a reissue with its fee.
        clerk.open(card_path)
        self.assertIn("待领取", clerk.text)
        clerk.check("card")
        card_number = clerk.find("dl.facts dd").text
        clerk.fill("issue-query", QUERY_PASSWORD)
        clerk.fill("issue-id", id_number).tick("issue-checked").submit("#issue")
        self.assertIn("卡片已发放", clerk.text)
        # The holder logs in at home, sees the card and reports it lost.
        holder = self.browser(PHONE)
        holder.open("/portal")
        self.assertTrue(holder.path.startswith("/portal/login"), holder.path)
        holder.check("portal-login")
        holder.fill("cardNumber", card_number).fill("password", QUERY_PASSWORD)
        holder.submit("form[action='/portal/login']")
        self.assertEqual(holder.path, "/portal")
        self.assertIn("正常", holder.text)
        self.assertIn("¥0.00", holder.text)
        self.assertNotIn(card_number, holder.text, "the card number is shown masked")
        holder.check("portal-home")
        holder.submit("form[action='/portal/loss']")
        self.assertIn("预挂失已生效", holder.text)
        self.assertTrue(holder.find("strong.lapse").text)
        holder.check("portal-home-lost")
        holder.open("/portal/access-log").check("portal-access-log")
        self.assertIn("工作人员", holder.text)
        holder.open("/portal/services").check("portal-services")
        # At the outlet the pre-loss is confirmed in writing, then the card is reissued.
        clerk.open(card_path)
        self.assertIn("预挂失", clerk.text)
        clerk.fill("written-loss-id", id_number).tick("written-loss-checked").submit("#written-loss")
        self.assertIn("书面挂失已生效", clerk.text)
        fee = clerk.find("#reissue strong").text
        self.assertTrue(fee.startswith("¥"), fee)
        clerk.fill("reissue-id", id_number).tick("reissue-checked").submit("#reissue")
        self.assertIn("补领工本费", clerk.text)
        self.assertIn(fee, clerk.text)
        clerk.check("receipt-reissue")
        receipt_path = clerk.path
        # The counter's pages at phone width too.
        phone = self.browser(PHONE)
        phone.login("dh01.operator")
        for path, name in [(person_path, "person"), (card_path, "card"), (receipt_path, "receipt")]:
            phone.open(path).check(name)

    def test_role_sees_and_may_only_its_own(self):
        clerk = self.browser()
        clerk.login("dh01.operator")
        menu = clerk.find("nav.menu").text
        self.assertNotIn("制卡批次", menu)
        self.assertNotIn("申领校核", menu)
        clerk.open("/console/production")
        self.assertIn("您的角色无权执行此操作", clerk.text)
        self.assertFalse(clerk.has("form[action='/console/production']"))
        admin = self.browser()
        admin.login("admin")
        self.assertNotIn("登记人员", admin.find("nav.menu").text)
        admin.open("/console/persons/new")
        self.assertIn("您的角色无权执行此操作", admin.text)

    def test_center_pages(self):
        for width in (DESK, PHONE):
            admin = self.browser(width)
            admin.login("admin")
            for path, name in [("/console/reports?outlet=DH01", "reports"), ("/console/pre-losses", "pre-losses"), ("/console/queues", "queues"),
                               ("/console/fees", "fees"), ("/console/catalogue", "catalogue"),
                               ("/console/production", "production")]:
                admin.open(path).check(name)
            admin.open("/console/audit?verify=1").check("audit")
            self.assertIn("审计日志完整", admin.text)
        supervisor = self.browser()
        supervisor.login("dh01.supervisor")
        supervisor.open("/console/pre-losses").check("pre-losses-supervisor")
        supervisor.open("/console/reports").check("reports-supervisor")
        self.assertIn("DH01", supervisor.text)
        self.assertTrue(supervisor.has("svg.chart"))

    def test_phone_width_and_english(self):
        phone = self.browser(PHONE)
        phone.open("/console/login").check("login")
        phone.find("a.lang").click()
        self.assertIn("Staff log-in", phone.text)
        phone.login("dh01.operator")
        phone.check("console-home")
        phone.open("/console/persons/find").check("person-find")
        phone.open("/console/persons/new").check("person-register")
        phone.open("/console/applications/bulk").check("bulk")


if __name__ == "__main__":
    unittest.main(verbosity=2)
