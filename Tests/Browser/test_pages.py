"""Browser tests of the outlet console and the citizen portal (issue 6).

Debian's chromium and chromium-driver, driven by selenium, against the real binary serving the
embedded database with its demo city. Run by scripts/browser-tests.sh (which starts the server);
screenshots go to $SCREENSHOTS.
"""

import contextlib
import datetime
import json
import os
import random
import re
import subprocess
import struct
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import zlib

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

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


def api(method, path, key, body=None, headers=None):
    """A JSON request to the API with a department's key (as the department's own program sends it)."""
    request = urllib.request.Request(
        BASE + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def socket_pair():
    """A port P with P and P + 1 free (vpcd listens on both), on every address as vpcd binds."""
    import socket
    while True:
        port = random.randrange(20000, 60000, 2)
        sockets = []
        try:
            for offset in (0, 1):
                s = socket.socket()
                s.bind(("0.0.0.0", port + offset))
                sockets.append(s)
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        if len(sockets) == 2:
            yield port
            return


def china_today():
    return datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date()


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

    def choose(self, field_id, value):
        Select(self.find(f"#{field_id}")).select_by_value(value)
        return self

    def submit(self, form_css, button=None):
        """Submits the form and waits for the next page."""
        # A mark on the current document: gone once the next page has loaded.
        self.driver.execute_script("window.__citizencardBefore = true")
        self.find(f"{form_css} button[type=submit]{button or ''}").click()
        WebDriverWait(self.driver, 20).until(lambda driver: driver.execute_script(
            "return window.__citizencardBefore === undefined && document.readyState === 'complete'"))
        return self

    @property
    def text(self):
        return self.find("body").text

    @property
    def path(self):
        return self.driver.current_url[len(BASE):]

    def link(self, css, text):
        """The path of the first link matching `css` whose text contains `text`."""
        for anchor in self.driver.find_elements(By.CSS_SELECTOR, css):
            if text in anchor.text:
                return anchor.get_attribute("href")[len(BASE):]
        self.test.fail(f"no link {css} with {text!r} on {self.path}")

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


class DepartmentTests(unittest.TestCase):
    """The department pages (issue 18): keys shown once, grants through the commission, feeds,
    the outlets' card cases, the disclosure report."""

    def setUp(self):
        self.pages = []

    def tearDown(self):
        for page in self.pages:
            page.close()

    def browser(self, width=DESK):
        page = Page(self, width)
        self.pages.append(page)
        return page

    def finish(self, page):
        """Closes a browser no longer needed (a phone and a desk browser per role add up)."""
        self.pages.remove(page)
        page.close()

    def new_client(self, admin, department_path, name):
        """Creates a client on the department's page; answers the key shown once."""
        admin.open(department_path)
        admin.fill("client-name", name).submit("#new-client")
        self.assertIn("此密钥只显示这一次", admin.text)
        key = admin.find("#issued-key").text
        self.assertTrue(key.startswith("ccd_"), key)
        return key

    def test_departments_grants_cases_and_report(self):
        today = china_today().isoformat()
        admin = self.browser()
        admin.login("admin")
        menu = admin.find("nav.menu").text
        for label in ["部门登记", "数据授权", "部门报送", "待办卡片事项", "数据提供监督"]:
            self.assertIn(label, menu)
        admin.open("/console/departments").check("departments")
        for code in ["PSB", "CIVIL", "HRSS", "HEALTH", "TRANSIT"]:
            self.assertIn(code, admin.text)
        psb_path = admin.link("table a[href^='/console/departments/']", "PSB")
        hrss_path = admin.link("table a[href^='/console/departments/']", "HRSS")
        admin.open(psb_path).check("department")
        # The center creates a client for PSB and sees its key once.
        psb_key = self.new_client(admin, psb_path, "PSB gateway")
        admin.check("department-new-key")
        admin.open(psb_path)
        self.assertNotIn(psb_key, admin.driver.page_source)
        self.assertIn(psb_key[:8], admin.text)
        hrss_key = self.new_client(admin, hrss_path, "HRSS gateway")

        # The center files a request for HRSS on its behalf.
        admin.open("/console/grants").check("grants")
        for option in admin.driver.find_elements(By.CSS_SELECTOR, "#grant-department option"):
            if option.text.startswith("HRSS"):
                admin.choose("grant-department", option.get_attribute("value"))
        admin.choose("grant-field-name", "masked").choose("grant-field-socialInsurance", "yes_no")
        admin.fill("grant-purpose", "参保资格核查").fill("grant-basis", "《市民卡管理办法》第七条")
        admin.submit("#grant-request")
        self.assertIn("授权申请已提交", admin.text)
        self.assertIn("待审批", admin.text)
        filed_path = admin.path.split("?")[0]
        admin.check("grant")
        # HRSS's own program asks for grants too, with the key the center gave it.
        def ask(purpose):
            return api("POST", "/api/v1/department/grant-requests", hrss_key, {
                "fields": {"name": "masked", "cardStatus": "yes_no"}, "purpose": purpose,
                "legalBasis": "《市民卡管理办法》第七条", "validFrom": today,
                "validUntil": (china_today() + datetime.timedelta(days=90)).isoformat()})
        asked = ask("就业补贴核查")
        asked_path = f"/console/grants/{asked['id']}"
        spare_path = f"/console/grants/{ask('临时核查')['id']}"

        # The commissioner approves them, at the desk and on a phone.
        commissioner = self.browser()
        commissioner.login("commissioner")
        menu = commissioner.find("nav.menu").text
        self.assertIn("数据授权", menu)
        self.assertNotIn("查询人员", menu)
        commissioner_phone = self.browser(PHONE)
        commissioner_phone.login("commissioner")
        for path, member in [(filed_path, commissioner), (asked_path, commissioner_phone),
                             (spare_path, commissioner_phone)]:
            member.open(path).check("grant-decision")
            member.fill("decision-note", "第 12 次会议通过")
            member.submit("#decision", "[value=approve]")
            self.assertIn("授权已批准", member.text)
        # The center may not record the agreement of the request it filed itself.
        admin.open(filed_path)
        self.assertIn("保密协议须由申请人和批准人以外的管理员登记", admin.text)
        self.assertFalse(admin.has("#agreement"))
        # It records the agreement of HRSS's request (here on a phone): the grant is active.
        admin.open(spare_path).check("grant-agreement")
        admin_phone = self.browser(PHONE)
        admin_phone.login("admin")
        admin_phone.open(asked_path).check("grant-agreement")
        admin_phone.fill("agreement-reference", "ZS-2026-HRSS-01").fill("agreement-signatory", "市人社局 王局长")
        admin_phone.submit("#agreement")
        self.assertIn("保密协议已登记，授权生效", admin_phone.text)
        self.assertEqual(admin_phone.find("dl.facts .state").text, "生效")
        self.finish(admin_phone)
        self.finish(commissioner_phone)
        admin.open("/console/grants?state=active")
        self.assertIn("就业补贴核查", admin.text)
        # The spare one is revoked with a reason.
        admin.open(spare_path).fill("revoke-reason", "重复申请").submit("#revocation")
        self.assertIn("授权已撤销", admin.text)

        # An operator registers a person and applies for a card; PSB reports the death; HRSS looks the person up.
        id_number = resident_id()
        clerk = self.browser()
        clerk.login("dh01.operator")
        clerk.open("/console/persons/new")
        clerk.fill("idNumber", id_number).fill("name", "部门测试").fill("phone", "13805805678")
        clerk.tick("socialInsurance").submit("form[action='/console/persons/new']")
        with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as photo:
            photo.write(tiny_png())
        clerk.find("#photo").send_keys(photo.name)
        clerk.submit("form[enctype='multipart/form-data']")
        clerk.submit("form[action$='/applications']")
        self.assertIn("收费凭证", clerk.text)
        message = f"PSB-{random.randrange(10**9)}"
        results = api("POST", "/api/v1/department/feeds", psb_key, {"messages": [
            {"messageId": message, "kind": "death", "idNumber": id_number, "occurredOn": today}]})
        self.assertEqual(results["results"][0]["outcome"], "applied")
        found = api("POST", "/api/v1/department/person-queries", hrss_key,
                    {"grantId": asked["id"], "idNumbers": [id_number]},
                    {"X-Purpose": "subsidy check", "X-Case-Number": "HR-1", "X-End-User": "officer-7"})
        self.assertTrue(found["results"][0]["found"])

        # The operator's outlet has the case, with the way to the card.
        self.assertIn("待办卡片事项", clerk.find("nav.menu").text)
        clerk.open("/console/cases").check("cases-open")
        self.assertIn("死亡注销", clerk.text)
        self.assertIn(message, clerk.text)
        self.assertNotIn(id_number, clerk.text)
        self.assertFalse(clerk.has("form[action$='/closure']"))
        clerk.find("section.case a[href^='/console/cards/']").click()
        self.assertIn("/console/cards/", clerk.path)
        clerk_phone = self.browser(PHONE)
        clerk_phone.login("dh01.operator").open("/console/cases").check("cases-open")
        self.assertIn(message, clerk_phone.text)
        self.finish(clerk_phone)
        # The supervisor closes it with a note (here on a phone; the form at the desk too).
        supervisor_desk = self.browser()
        supervisor_desk.login("dh01.supervisor").open("/console/cases").check("cases-close")
        self.finish(supervisor_desk)
        supervisor = self.browser(PHONE)
        supervisor.login("dh01.supervisor").open("/console/cases").check("cases-close")
        row = [c for c in supervisor.driver.find_elements(By.CSS_SELECTOR, "section.case") if message in c.text][0]
        row.find_element(By.CSS_SELECTOR, "input[name=note]").send_keys("继承人另行办理")
        supervisor.driver.execute_script("window.__citizencardBefore = true")
        row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(supervisor.driver, 20).until(lambda driver: driver.execute_script(
            "return window.__citizencardBefore === undefined && document.readyState === 'complete'"))
        self.assertIn("事项已关闭", supervisor.text)
        self.assertNotIn(message, supervisor.text)

        # The center reads the feed results; the case is closed at every outlet.
        admin.open("/console/cases").check("cases")
        self.assertNotIn(message, admin.text)
        admin.open("/console/feeds?department=PSB").check("feeds")
        self.assertIn(message, admin.text)
        self.assertIn("已更新", admin.text)

        # The auditor reads the disclosure report: HRSS's query under its grant.
        auditor = self.browser()
        auditor.login("auditor")
        self.assertIn("数据提供监督", auditor.find("nav.menu").text)
        auditor.open("/console/disclosures").check("disclosures")
        self.assertIn("HRSS", auditor.text)
        self.assertIn("人员查询", auditor.text)
        self.assertNotIn(id_number, auditor.text)
        auditor.open(asked_path)
        self.assertFalse(auditor.has("form[action^='/console/grants/']"))

        # Every new page at phone width, and in English.
        phone = self.browser(PHONE)
        phone.login("admin")
        for path, name in [("/console/departments", "departments"), (psb_path, "department"),
                           ("/console/grants", "grants"), (filed_path, "grant"), ("/console/feeds", "feeds"),
                           ("/console/cases", "cases"), ("/console/disclosures", "disclosures")]:
            phone.open(path).check(name)
        self.new_client(phone, hrss_path, "HRSS batch job with a rather long name for a narrow screen")
        phone.check("department-new-key")
        phone.find("a.lang").click()
        self.assertIn("Departments", phone.text)
        phone.open(psb_path).check("department-en")
        phone.open(asked_path).check("grant-en")
        self.assertIn("Active", phone.text)
        for width in (DESK, PHONE):
            reader = self.browser(width)
            reader.login("commissioner")
            reader.open(filed_path).check("grant-commissioner")
            reader.open(hrss_path).check("department-commissioner")
            operator = self.browser(width)
            operator.login("dh01.operator")
            operator.open("/console/cases").check("cases-operator")
            self.finish(reader)
            self.finish(operator)
        for name in ["departments", "department", "department-new-key", "grants", "grant", "grant-decision",
                     "grant-agreement", "feeds", "cases", "cases-open", "cases-close", "disclosures",
                     "grant-commissioner", "department-commissioner", "cases-operator"]:
            for width in (DESK, PHONE):
                self.assertIn((name, width), CHECKED, f"{name} is not checked at {width}px")

DEMO_CARD = os.environ.get("CITIZENCARD_DEMO_CARD", "3309000000010")
BANK = os.environ.get("CITIZENCARD_BANK_URL", "")


def staff_token(username):
    """A staff member's API token (POST /api/v1/auth/login)."""
    request = urllib.request.Request(
        BASE + "/api/v1/auth/login", method="POST",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())["token"]


def bank_control(method, path, body=None):
    """The bank simulator's control API (loopback, unsigned)."""
    request = urllib.request.Request(
        BANK + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def eventually(test, check, what, seconds=60):
    """Polls `check` until it answers something true; fails the test with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.5)
    test.fail(f"timed out waiting for {what}")


class BankPageTests(unittest.TestCase):
    """The partner bank (issue 20): the demo city's cards have accounts at the bank simulator; a
    notice to a bank that answers 500 is parked, shown with its error, retried by the center and
    delivered; a reconciliation runs from the form; the holder sees the account masked."""

    def setUp(self):
        self.pages = []

    def tearDown(self):
        for page in self.pages:
            page.close()
        if BANK:
            bank_control("POST", "/control/mode", {"mode": "normal"})

    def browser(self, width=DESK):
        page = Page(self, width)
        self.pages.append(page)
        return page

    def active_card_with_account(self, token):
        """An active card (not the portal demo's) whose account is open, and its holder's ID number."""
        cards = api("GET", "/api/v1/cards?state=active&limit=200", token)["items"]
        for card in cards:
            if card["number"] == DEMO_CARD:
                continue
            try:
                account = api("GET", f"/api/v1/cards/{card['id']}/bank-account", token)
            except urllib.error.HTTPError:
                continue
            if account["state"] == "open":
                person = api("GET", f"/api/v1/persons/{card['personId']}?reveal=true&purpose=test", token)
                return card, account, person["idNumber"]
        self.fail("no active card with an open bank account")

    def test_parked_notice_retried_reconciliation_and_portal(self):
        self.assertTrue(BANK, "CITIZENCARD_BANK_URL is not set (scripts/browser-tests.sh starts the bank)")
        for width in (DESK, PHONE):
            admin = self.browser(width)
            admin.login("admin")
            self.assertIn("合作银行", admin.find("nav.menu").text)
            admin.open("/console/banks").check("banks")
            self.assertIn("ICBC", admin.find("#banks").text)
            self.assertIn("工商银行舟山分行", admin.find("#banks").text)
            admin.find("a.lang").click()
            self.assertIn("Notices to the banks", admin.text)
            admin.check("banks-en")
            admin.find("a.lang").click()
            self.pages.remove(admin)
            admin.close()

        # The bank answers 500; the operator takes a written loss report; the notice is parked.
        operator = staff_token("dh01.operator")
        admin_token = staff_token("admin")
        card, account, id_number = self.active_card_with_account(operator)
        self.assertRegex(account["maskedNumber"], r"^622202\*+\d{4}$")
        bank_control("POST", "/control/mode", {"mode": "error"})
        api("POST", f"/api/v1/cards/{card['id']}/loss", operator,
            {"identity": {"idNumber": id_number, "documentChecked": True}})

        def parked():
            notices = api("GET", "/api/v1/bank-notices?state=parked&limit=100", admin_token)["items"]
            return next((n for n in notices if n["cardId"] == card["id"]), None)

        notice = eventually(self, parked, "the notice to be parked")
        self.assertEqual(notice["kind"], "loss_written")
        admin = self.browser()
        admin.login("admin")
        admin.open("/console/banks")
        row = admin.find(f"#notice-{notice['id']}")
        self.assertIn("已搁置", row.text)
        self.assertIn("书面挂失", row.text)
        self.assertIn("HTTP 500", row.find_element(By.CSS_SELECTOR, ".last-error").text)
        self.assertEqual(row.find_element(By.CSS_SELECTOR, "a").get_attribute("href"),
                         f"{BASE}/console/cards/{card['id']}")
        admin.check("banks-parked")

        # The bank answers again; the center retries; the notice is delivered.
        bank_control("POST", "/control/mode", {"mode": "normal"})
        admin.submit(f"#notice-{notice['id']} form.retry")
        self.assertIn("通知已重新排队", admin.find("p.notice").text)

        def delivered():
            admin.open("/console/banks?bank=ICBC&state=delivered")
            return admin.has(f"#notice-{notice['id']}") and "已送达" in admin.find(f"#notice-{notice['id']}").text

        eventually(self, delivered, "the notice to be delivered")
        admin.check("banks-delivered")

        # Today's reconciliation from the form.
        admin.open("/console/banks")
        admin.choose("reconcile-bank", "ICBC")
        self.assertEqual(admin.find("#reconcile-date").get_attribute("value"), china_today().isoformat())
        admin.submit("#reconcile")
        self.assertIn("对账已完成", admin.text)
        result = admin.find("#reconciliation-result").text
        self.assertIn("ICBC", result)
        self.assertIn(china_today().isoformat(), result)
        self.assertIn(china_today().isoformat(), admin.find("#reconciliations").text)
        admin.check("banks-reconciled")

        # The card's page: the account, masked, and the notice delivered.
        admin.open(f"/console/cards/{card['id']}")
        self.assertIn(account["maskedNumber"], admin.find("#bank-account").text)
        self.assertIn("书面挂失", admin.find("#bank-notices").text)
        self.assertIn("已送达", admin.find("#bank-notices").text)
        admin.check("card-bank")

        # The holder on a phone: the bank and the number masked, never in full.
        at_bank = {a["cardNumber"]: a["accountNumber"] for a in bank_control("GET", "/control/state")["accounts"]}
        holder = self.browser(PHONE)
        holder.open("/portal/login").fill("cardNumber", DEMO_CARD).fill("password", QUERY_PASSWORD)
        holder.submit("form[action='/portal/login']")
        self.assertEqual(holder.path, "/portal")
        bank_line = holder.find(".bank-account").text
        self.assertIn("工商银行舟山分行", bank_line)
        self.assertRegex(bank_line, r"622202\*+\d{4}")
        self.assertIn("正常", bank_line)
        source = holder.driver.page_source
        self.assertIsNone(re.search(r"\d{16,19}", source), "a full account number on the portal")
        for number in at_bank.values():
            self.assertNotIn(number, source)
        holder.check("portal-bank")
        for name in ["banks", "banks-en"]:
            for width in (DESK, PHONE):
                self.assertIn((name, width), CHECKED, f"{name} is not checked at {width}px")



BINARY = os.environ.get("CITIZENCARD_BIN", "")
DATA = os.environ.get("CITIZENCARD_DATA", "")
VPCD_DRIVER = next((path for path in ["/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
                                      "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so"]
                    if os.path.exists(path)), None)


def pcsc_readers():
    """(reader name, card present) as opensc-tool lists them; [] while pcscd does not answer."""
    listing = subprocess.run(["opensc-tool", "-l"], capture_output=True, text=True, timeout=30)
    readers = []
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit() and "Virtual PCD" in line:
            readers.append((line[line.index("Virtual PCD"):].strip(), fields[1] == "Yes"))
    return readers


def wait_for(condition, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


class CounterPurseTests(unittest.TestCase):
    """The e-purse at the counter (issue 21, part 5): pcscd with vsmartcard's vpcd, the software
    card inserted by `citizencard card emulate`, and `citizencard counter-agent` connected to the
    server as the clerk; the clerk loads and reads the card from its page, in Chinese at the desk
    and in English on a phone."""

    def setUp(self):
        self.pages = []
        self.processes = []
        self.logs = []
        self.directory = tempfile.mkdtemp(prefix="citizencard-counter-")

    def tearDown(self):
        for page in self.pages:
            page.close()
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()

    def start(self, arguments, name):
        log = open(os.path.join(self.directory, name + ".log"), "w")
        self.logs.append(log)
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        self.processes.append(process)
        return process

    def log(self, name):
        with open(os.path.join(self.directory, name + ".log")) as file:
            return file.read()

    def pcsc(self):
        """A pcscd of this test with one vpcd reader on free ports: its vpcd port."""
        with socket_pair() as port:
            pass
        conf = os.path.join(self.directory, "reader.conf.d")
        os.makedirs(conf)
        with open(os.path.join(conf, "vpcd"), "w") as file:
            file.write(f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:{port}\nLIBPATH      {VPCD_DRIVER}\n')
        self.start(["pcscd", "--foreground", "--auto-exit", "-c", conf], "pcscd")
        wait_for(lambda: any(name == "Virtual PCD 00 00" for name, _ in pcsc_readers()), 60, "the vpcd reader")
        return port

    def test_load_and_read_with_the_card_in_the_counters_reader(self):
        if not (BINARY and DATA and VPCD_DRIVER):
            self.skipTest("needs CITIZENCARD_BIN, CITIZENCARD_DATA (scripts/browser-tests.sh) and vsmartcard-vpcd")
        if pcsc_readers():
            self.skipTest("another pcscd is running")
        token = staff_token("dh01.operator")
        cards = api("GET", "/api/v1/cards?state=active&limit=200", token)["items"]
        card = [c for c in cards if c["number"] != DEMO_CARD][-1]
        chip = os.path.join(self.directory, "chip.json")
        made = subprocess.run([BINARY, "card", "new", "--asn", card["asn"], "--keyring",
                               os.path.join(DATA, "keys", "issuer-keys.json"), "--out", chip],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(made.returncode, 0, made.stderr)
        port = self.pcsc()
        self.start([BINARY, "card", "emulate", "--card", chip, "--vpcd", f"127.0.0.1:{port}"], "emulate")
        wait_for(lambda: ("Virtual PCD 00 00", True) in pcsc_readers(), 60, "the card in the reader")
        password = os.path.join(self.directory, "password")
        with open(password, "w") as file:
            file.write(PASSWORD + "\n")
        self.start([BINARY, "counter-agent", "--server", BASE, "--user", "dh01.operator", "--password-file",
                    password, "--reader", "Virtual PCD 00 00", "--terminal-id", "330900000088"], "agent")

        clerk = self.browser()
        clerk.login("dh01.operator")
        page = f"/console/cards/{card['id']}"

        def connected():
            clerk.open(page)
            return "330900000088" in clerk.find("#purse-reader").text
        wait_for(connected, 60, "the counter agent: " + self.log("agent"))
        clerk.check("card-purse")
        clerk.fill("load-amount", "50.00").choose("load-funding", "cash").submit("#purse-load")
        self.assertIn("圈存成功", clerk.text, self.log("agent"))
        self.assertIn("已完成", clerk.find("#purse-loads").text)
        clerk.submit("form[action$='/purse/read']")
        chip_text = clerk.find("#purse-chip").text
        self.assertIn("¥50.00", chip_text)
        clerk.check("card-purse-read")
        # A wrong amount is a message on the page, and nothing is loaded.
        clerk.fill("load-amount", "12.345").submit("#purse-load")
        self.assertIn("元", clerk.find("p.problem").text)
        # On a phone, in English.
        phone = self.browser(PHONE)
        phone.login("dh01.operator").open(page)
        phone.find("a.lang").click()
        phone.open(page).check("card-purse-en")
        self.assertIn("E-purse", phone.text)
        phone.fill("load-amount", "20").submit("#purse-load")
        self.assertIn("Loaded", phone.text)
        phone.submit("form[action$='/purse/read']")
        self.assertIn("¥70.00", phone.find("#purse-chip").text)
        self.assertNotIn(card["asn"], self.log("agent"), "the agent prints no card data")

    def browser(self, width=DESK):
        page = Page(self, width)
        self.pages.append(page)
        return page


class ElectronicCardTests(unittest.TestCase):
    """The electronic card (issue 19): the holder's code at phone width, read from a screenshot by
    a real QR decoder (zbar) and verified online; name and number masked until tapped."""

    def setUp(self):
        self.pages = []

    def tearDown(self):
        for page in self.pages:
            page.close()

    def test_code_on_a_phone_is_read_by_zbar_and_verifies(self):
        holder = Page(self, PHONE)
        self.pages.append(holder)
        holder.open("/portal/login").fill("cardNumber", DEMO_CARD).fill("password", QUERY_PASSWORD)
        holder.submit("form[action='/portal/login']")
        self.assertEqual(holder.path, "/portal")
        holder.open("/portal/card-code").check("portal-ecard")
        self.assertNotIn(DEMO_CARD, holder.text, "the card number is masked until the holder taps")
        holder.find("#ecard-reveal").click()
        self.assertIn(DEMO_CARD, holder.text)
        holder.find("#ecard-reveal").click()
        self.assertNotIn(DEMO_CARD, holder.text)
        # The symbol as the screen shows it, read by zbar from the screenshot.
        with tempfile.TemporaryDirectory() as directory:
            shot = os.path.join(directory, "code.png")
            holder.find("#ecard-code").screenshot(shot)
            decoded = subprocess.run(
                ["zbarimg", "--quiet", "--raw", shot], capture_output=True, text=True, timeout=30)
            self.assertEqual(decoded.returncode, 0, decoded.stderr)
            code = decoded.stdout.strip()
        self.assertTrue(code.startswith("CC1:"), code[:20])
        # At the desk: the scanner types the code into the verifier page.
        clerk = Page(self, DESK)
        self.pages.append(clerk)
        clerk.login("dh01.operator").open("/console/credentials").check("console-credentials")
        clerk.fill("code", code).tick("markUsed").submit("#check-code")
        self.assertIn("有效", clerk.find("#verdict h2").text)
        self.assertTrue(clerk.has("#portrait"), "the holder's portrait is shown to compare")
        self.assertNotIn("照片与卡码签发时的照片不一致", clerk.text)
        clerk.check("console-credentials-valid")
        clerk.fill("code", code).tick("markUsed").submit("#check-code")
        self.assertIn("此码已于以下时间核验使用", clerk.text)
        clerk.fill("code", "CC1:NOT-A-CODE").submit("#check-code")
        self.assertIn("不是有效的电子卡码", clerk.text)
        self.assertFalse(clerk.has("#portrait"))
        token = staff_token("dh01.operator")
        answer = api("POST", "/api/v1/credentials/verification", token, {"code": code})
        self.assertEqual(answer["verdict"], "valid", answer)
        self.assertEqual(answer["claims"]["cardNumber"][:4], DEMO_CARD[:4])
        again = api("POST", "/api/v1/credentials/verification", token, {"code": code, "markUsed": True})
        self.assertTrue(again["replayed"], "the desk marked it used")
        # In English too.
        holder.find("a.lang").click()
        holder.open("/portal/card-code")
        self.assertIn("Electronic card", holder.text)
        holder.check("portal-ecard-en")



class MoneyPageTests(unittest.TestCase):
    """The money pages (issue 21, part 5): the refunds due at the outlet, the center's merchants
    and terminals (the key shown once), clearing of yesterday with the settlement files, the
    fraud signals and the suspense accounts; at desk and phone width, and once in English."""

    def setUp(self):
        self.pages = []

    def tearDown(self):
        for page in self.pages:
            page.close()

    def browser(self, width=DESK):
        page = Page(self, width)
        self.pages.append(page)
        return page

    def test_refunds_merchants_clearing_signals_suspense(self):
        code = f"BT{random.randrange(10000, 99999)}"
        number = f"{random.randrange(16 ** 12):012X}"
        psam = f"{random.randrange(16 ** 16):016X}"
        yesterday = (china_today() - datetime.timedelta(days=1)).isoformat()
        for width in (DESK, PHONE):
            clerk = self.browser(width)
            clerk.login("dh01.operator")
            self.assertIn("待付退款", clerk.find("nav.menu").text)
            self.assertNotIn("商户与终端", clerk.find("nav.menu").text)
            clerk.open("/console/refunds").check("refunds")
            self.assertIn("待付退款", clerk.find("h1").text)
            clerk.open("/console/merchants")
            self.assertIn("您的角色无权执行此操作", clerk.text)
            admin = self.browser(width)
            admin.login("admin")
            admin.open("/console/merchants").check("merchants")
            admin.open("/console/clearing").check("clearing")
            admin.open("/console/fraud-signals").check("fraud-signals")
            admin.open("/console/suspense").check("suspense")
            self.assertTrue(admin.has("#suspense-decision"))
        # The center registers a merchant and a terminal; the key is shown once.
        admin.open("/console/merchants")
        admin.fill("merchant-code", code).fill("merchant-name", "浏览器测试商户").fill("merchant-commission", "60")
        admin.submit("#new-merchant")
        self.assertIn("商户已登记", admin.text)
        merchant_path = admin.path.split("?")[0]
        admin.check("merchant")
        admin.fill("terminal-number", number).fill("terminal-psam", psam).fill("terminal-location", "浏览器测试站")
        admin.fill("terminal-latitude", "29.985").fill("terminal-longitude", "122.207")
        admin.submit("#new-terminal")
        self.assertIn("终端已登记", admin.text)
        key = admin.find("#issued-key").text
        self.assertTrue(key)
        self.assertNotIn(key, admin.driver.current_url)
        admin.check("merchant-key")
        admin.open(merchant_path)
        self.assertNotIn(key, admin.text, "the key is shown once")
        self.assertIn(number, admin.find("#terminals").text)
        admin.submit(f"#terminal-{number} form")
        self.assertIn("终端已停用", admin.text)
        admin.submit(f"#terminal-{number} form")
        self.assertIn("终端已重新启用", admin.text)
        # Clearing for yesterday, and a merchant's settlement file when there is one.
        admin.open("/console/clearing")
        admin.driver.execute_script("document.getElementById('clearing-date').value = arguments[0]", yesterday)
        admin.submit("#clearing-run")
        self.assertIn(yesterday, admin.find("h1").text)
        self.assertIn("清分", admin.find("p.notice").text)
        self.assertFalse(admin.has("p.problem"), admin.text)
        admin.check("clearing-run")
        files = [a.get_attribute("href") for a in admin.driver.find_elements(By.CSS_SELECTOR, "#settlements a[download]")]
        if files:
            cookie = admin.driver.get_cookie("cc_session")["value"]
            request = urllib.request.Request(files[0], headers={"Cookie": f"cc_session={cookie}"})
            with urllib.request.urlopen(request, timeout=20) as response:
                self.assertTrue(response.headers["Content-Type"].startswith("text/csv"))
                self.assertTrue(response.read().decode().startswith("business_date,merchant_code"))
        admin.open("/console/clearing")
        self.assertIn(yesterday, admin.find("#clearing-runs").text)
        # The answers at desk width too (the forms above ran at phone width).
        desk = self.browser(DESK)
        desk.login("admin")
        desk.open(merchant_path).check("merchant")
        desk.open("/console/clearing")
        desk.driver.execute_script("document.getElementById('clearing-date').value = arguments[0]", yesterday)
        desk.submit("#clearing-run")
        # A day with purchases is answered from its stored figures; a day without any is cleared afresh.
        self.assertIn("清分", desk.find("p.notice").text)
        desk.check("clearing-run")
        # A day that is not over is refused on the page.
        admin.driver.execute_script(
            "document.getElementById('clearing-date').removeAttribute('max');"
            "document.getElementById('clearing-date').value = arguments[0]", china_today().isoformat())
        admin.submit("#clearing-run")
        self.assertIn("只能对已结束的营业日清分", admin.text)
        # In English once.
        admin.find("a.lang").click()
        self.assertIn("Clearing", admin.find("h1").text)
        admin.open("/console/suspense")
        self.assertIn("Refunds payable", admin.text)
        admin.check("suspense-en")


if __name__ == "__main__":
    unittest.main(verbosity=2)
