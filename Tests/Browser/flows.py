"""The hosted pages driven in headless Chromium, as a customer would use them.

Run by scripts/browser-tests against a server it starts on loopback. Each flow runs in Hebrew and
in English; each asserts what a person sees (totals, the discount as a discount, field errors next
to their field, the final URL), and every page visited passes the accessibility checks below.
"""
import argparse, json, os, sqlite3, sys, time, traceback, urllib.request
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

ARGS = None
TEXT = {
    "he": {"discount": "הנחה", "paid": "התשלום התקבל", "declined": "הכרטיס נדחה", "card_saved": "הכרטיס נשמר",
           "expired": "תוקף דף התשלום פג", "trial": "ימי ניסיון בחינם", "authorize": "לאישור", "invalid_number": "מספר הכרטיס אינו תקין",
           "cancels": "יבוטל ב-", "active": "פעיל", "card_added": "הכרטיס החדש נשמר", "default_changed": "כרטיס ברירת המחדל הוחלף",
           "resumed": "המנוי ממשיך", "mastercard": "Mastercard המסתיים ב־4444", "default": "ברירת מחדל"},
    "en": {"discount": "Discount", "paid": "Payment received", "declined": "Your card was declined", "card_saved": "Card saved",
           "expired": "This checkout has expired", "trial": "-day free trial", "authorize": "Authorize", "invalid_number": "This card number is not valid",
           "cancels": "Cancels on", "active": "Active", "card_added": "Your new card is saved", "default_changed": "Your default card is changed",
           "resumed": "Your plan continues", "mastercard": "Mastercard ending in 4444", "default": "Default"},
}
# Selenium's .text drops the invisible right-to-left mark that Hebrew amounts start with.
MONEY = {"he": lambda a: "%s ₪" % a, "en": lambda a: "₪%s" % a}


def api(method, path, body=None, key=None):
    request = urllib.request.Request(ARGS.base + "/v1" + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + (key or ARGS.key), "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["data"]


def session(locale, **fields):
    customer = api("POST", "/customers", {"name": "Dana Cohen", "locale": locale})["id"]
    body = {"customer": customer, "success_url": ARGS.base + "/healthz?paid={CHECKOUT_SESSION_ID}",
            "cancel_url": ARGS.base + "/healthz?canceled=1", "locale": locale}
    body.update(fields)
    return api("POST", "/checkout_sessions", body)


CART = [{"name": "Negev espresso blend", "description": "1kg whole beans", "amount_agorot": 8900, "quantity": 2},
        {"name": "Loyalty discount", "amount_agorot": -1500}]


def browser(javascript=True):
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--hide-scrollbars"]:
        options.add_argument(argument)
    options.binary_location = ARGS.chromium
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(ARGS.chromedriver), options=options)


def fill_card(driver, number, exp="12/30", cvc="123", name="Dana Cohen"):
    if driver.find_elements(By.CSS_SELECTOR, "input[name=payment_method][value=new]"):
        driver.find_element(By.CSS_SELECTOR, "input[name=payment_method][value=new]").click()
    for field, value in [("name", name), ("number", number), ("exp", exp), ("cvc", cvc)]:
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button.pay-button"))


def click_and_wait(driver, element):
    """Clicks, then waits (at most 10 s) until the page it was on is replaced: a submit navigates."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(_):
        # Chrome reports a node of a replaced document as stale, or as "does not belong to the
        # document", depending on timing; either means the new page has arrived.
        try:
            page.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(driver, 10).until(replaced)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


# Accessibility checks, run on every page a flow visits (with JavaScript on).
A11Y_SCRIPT = """
const problems = [];
const html = document.documentElement;
if (!html.lang || !html.dir) problems.push('html needs lang and dir');
for (const input of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
  const labelled = (input.id && document.querySelector('label[for="' + input.id + '"]')) || input.closest('label') || input.getAttribute('aria-label');
  if (!labelled) problems.push('no label for ' + (input.name || input.id));
}
const summary = document.querySelector('.error-summary');
if (summary && summary.getAttribute('role') !== 'alert') problems.push('the error summary needs role=alert');
const focusable = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select')].filter(e => !e.disabled);
if ([...document.querySelectorAll('[tabindex]')].some(e => e.tabIndex > 0)) problems.push('positive tabindex changes the tab order');
const pay = focusable.findIndex(e => e.classList.contains('pay-button'));
const cancel = focusable.findIndex(e => e.closest('.cancel'));
if (pay >= 0 && cancel >= 0 && pay > cancel) problems.push('tab order reaches cancel before pay');
function luminance(color) {
  const [r, g, b] = color.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function background(element) {
  for (let e = element; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c;
  }
  return 'rgb(255, 255, 255)';
}
for (const element of document.querySelectorAll('h1, h2, p, dt, dd, label, .pay-button, .line-name, a')) {
  if (!element.offsetParent && element.tagName !== 'BODY') continue;
  const fg = luminance(getComputedStyle(element).color), bg = luminance(background(element));
  const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  if (ratio < 4.5) problems.push('contrast ' + ratio.toFixed(2) + ':1 on "' + element.textContent.trim().slice(0, 30) + '"');
}
return problems;
"""


def check_accessibility(driver):
    problems = driver.execute_script(A11Y_SCRIPT)
    assert not problems, "accessibility: %s on %s" % (problems, driver.current_url)
    size = driver.get_window_size()
    driver.set_window_size(320, 900)
    try:
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "the page overflows horizontally by %dpx at 320px: %s" % (overflow, driver.current_url)
    finally:
        driver.set_window_size(size["width"], size["height"])


def expect_url(driver, expected):
    try:
        WebDriverWait(driver, 10).until(expected_conditions.url_to_be(expected))
    except Exception:
        raise AssertionError("ended at %s, expected %s" % (driver.current_url, expected))


def expect_success(driver, session_id):
    expect_url(driver, ARGS.base + "/healthz?paid=" + session_id)


# Flows -----------------------------------------------------------------------------------------

def cart_with_discount(driver, locale):
    s = session(locale, line_items=CART)
    driver.get(s["url"])
    check_accessibility(driver)
    discount = driver.find_element(By.CSS_SELECTOR, "li.line.discount")
    assert TEXT[locale]["discount"] in discount.text and "-" in discount.find_element(By.CSS_SELECTOR, ".amount").text, discount.text
    assert driver.find_element(By.ID, "due-today").text == MONEY[locale]("163.00"), driver.find_element(By.ID, "due-today").text
    fill_card(driver, "4242 4242 4242 4242")
    expect_success(driver, s["id"])


def decline_then_success(driver, locale):
    s = session(locale, line_items=CART)
    driver.get(s["url"])
    fill_card(driver, "4000 0000 0000 0002")
    assert TEXT[locale]["declined"] in driver.find_element(By.ID, "decline").text
    check_accessibility(driver)
    fill_card(driver, "4242424242424241")
    error = driver.find_element(By.ID, "number-error")
    assert TEXT[locale]["invalid_number"] in error.text
    assert driver.find_element(By.ID, "number").get_attribute("aria-describedby") == "number-error"
    assert driver.find_element(By.CSS_SELECTOR, ".error-summary").get_attribute("role") == "alert"
    assert driver.find_element(By.ID, "number").get_attribute("value") == "", "the card number must not be echoed back"
    check_accessibility(driver)
    fill_card(driver, "5555 5555 5555 4444")
    expect_success(driver, s["id"])


def three_d_secure(driver, locale):
    s = session(locale, line_items=CART)
    driver.get(s["url"])
    fill_card(driver, "4000 0027 6000 3184")
    assert "/3ds/" in driver.current_url, driver.current_url
    check_accessibility(driver)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[value=pass]"))
    expect_success(driver, s["id"])


def mixed_plan_with_trial(driver, locale):
    product = api("POST", "/products", {"name": "Coffee club"})["id"]
    price = api("POST", "/prices", {"product": product, "unit_amount": 4900, "type": "recurring",
                                   "recurring": {"interval": "month", "trial_period_days": 14}})["id"]
    s = session(locale, price=price, line_items=[{"name": "Grinder", "amount_agorot": 25000}])
    driver.get(s["url"])
    check_accessibility(driver)
    assert driver.find_element(By.ID, "due-today").text == MONEY[locale]("250.00")
    assert TEXT[locale]["trial"] in driver.find_element(By.CSS_SELECTOR, ".plan-trial").text
    assert MONEY[locale]("49.00") in driver.find_element(By.ID, "plan-terms").text
    fill_card(driver, "4242 4242 4242 4242")
    expect_success(driver, s["id"])
    assert api("GET", "/subscriptions/" + api("GET", "/checkout_sessions/" + s["id"])["subscription"])["status"] == "trialing"


def manual_capture(driver, locale):
    s = session(locale, line_items=CART, capture_method="manual")
    driver.get(s["url"])
    check_accessibility(driver)
    assert driver.find_element(By.CSS_SELECTOR, ".notice").is_displayed()
    assert TEXT[locale]["authorize"] in driver.find_element(By.CSS_SELECTOR, "button.pay-button").text
    fill_card(driver, "4242 4242 4242 4242")
    expect_success(driver, s["id"])
    assert api("GET", "/charges/" + api("GET", "/checkout_sessions/" + s["id"])["charge"])["status"] == "requires_capture"


def setup_session(driver, locale):
    customer = api("POST", "/customers", {"name": "Dana Cohen", "locale": locale})["id"]
    s = api("POST", "/setup_sessions", {"customer": customer, "success_url": ARGS.base + "/healthz?saved={SETUP_SESSION_ID}",
                                        "cancel_url": ARGS.base + "/healthz?canceled=1"})
    driver.get(s["url"] + "?locale=" + locale)
    check_accessibility(driver)
    assert not driver.find_elements(By.ID, "installments")
    fill_card(driver, "4242 4242 4242 4242")
    expect_url(driver, ARGS.base + "/healthz?saved=" + s["id"])
    assert len(api("GET", "/customers/%s/payment_methods" % customer)) == 1


def cancel_to_merchant(driver, locale):
    s = session(locale, line_items=CART)
    driver.get(s["url"])
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, ".cancel a"))
    expect_url(driver, ARGS.base + "/healthz?canceled=1")


def expired_session(driver, locale):
    s = session(locale, line_items=CART)
    with sqlite3.connect(ARGS.database, timeout=10) as db:
        db.execute("UPDATE checkout_sessions SET expires_at = 0 WHERE id = ?", (s["id"],))
    driver.get(s["url"])
    assert TEXT[locale]["expired"] in driver.find_element(By.TAG_NAME, "h1").text
    check_accessibility(driver)


def without_javascript(driver, locale):
    plain = browser(javascript=False)
    try:
        s = session(locale, line_items=CART)
        plain.get(s["url"])
        assert plain.find_element(By.ID, "due-today").text == MONEY[locale]("163.00")
        fill_card(plain, "4242 4242 4242 4242")
        expect_success(plain, s["id"])
    finally:
        plain.quit()


def portal_session(locale, email=None):
    """A customer on a paid monthly plan (so with a receipt), and a billing portal link for them."""
    email = email or "dana-%s-%d@example.com" % (locale, time.time_ns())
    customer = api("POST", "/customers", {"name": "Dana Cohen", "email": email, "locale": locale})["id"]
    card = api("POST", "/payment_methods/test-card", {"customer": customer})["id"]
    product = api("POST", "/products", {"name": "Coffee club"})["id"]
    price = api("POST", "/prices", {"product": product, "unit_amount": 4900, "type": "recurring", "recurring": {"interval": "month"}})["id"]
    subscription = api("POST", "/subscriptions", {"customer": customer, "price": price, "payment_method": card})["id"]
    portal = api("POST", "/billing_portal_sessions", {"customer": customer, "return_url": ARGS.base + "/healthz?back=1"})
    return customer, subscription, portal


def banner(driver):
    return driver.find_element(By.CSS_SELECTOR, ".banner").text


def billing_portal(driver, locale):
    customer, subscription, portal = portal_session(locale)
    driver.get(portal["url"])
    check_accessibility(driver)
    assert TEXT[locale]["active"] in driver.find_element(By.CSS_SELECTOR, ".status").text
    # Cancel at the period end, through the confirmation step; then resume.
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "a[href*='/subscriptions/%s/cancel']" % subscription))
    check_accessibility(driver)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button.pay-button"))
    assert TEXT[locale]["cancels"] in driver.find_element(By.CSS_SELECTOR, ".status").text
    assert driver.find_element(By.CSS_SELECTOR, ".banner").get_attribute("role") == "status"
    assert api("GET", "/subscriptions/" + subscription)["cancel_at_period_end"] is True
    check_accessibility(driver)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form[action*='/resume'] button"))
    assert TEXT[locale]["resumed"] in banner(driver), banner(driver)
    assert api("GET", "/subscriptions/" + subscription)["cancel_at_period_end"] is False
    # Add a card through the setup page, and make it the default.
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form[action*='/cards/new'] button"))
    assert "/setup/" in driver.current_url, driver.current_url
    fill_card(driver, "5555 5555 5555 4444")
    WebDriverWait(driver, 10).until(lambda d: "/portal/" in d.current_url and "notice=card_added" in d.current_url)
    assert TEXT[locale]["card_added"] in banner(driver), banner(driver)
    check_accessibility(driver)
    mastercard = [item for item in driver.find_elements(By.CSS_SELECTOR, ".portal-list .portal-item") if TEXT[locale]["mastercard"] in item.text][0]
    click_and_wait(driver, mastercard.find_element(By.CSS_SELECTOR, "form[action*='/default'] button"))
    assert TEXT[locale]["default_changed"] in banner(driver), banner(driver)
    default = api("GET", "/customers/" + customer)["default_payment_method"]
    assert api("GET", "/payment_methods/" + default)["card"]["last4"] == "4444"
    # Open the receipt, then go back to the merchant.
    receipt = driver.find_element(By.CSS_SELECTOR, ".receipt a").get_attribute("href")
    with urllib.request.urlopen(receipt) as response:
        assert response.headers["Content-Type"] == "application/pdf" and response.read(5) == b"%PDF-"
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, ".cancel a"))
    expect_url(driver, ARGS.base + "/healthz?back=1")


def live_checkout(driver, locale):
    """Live mode: our page asks for the payer, Grow's page (the fake) takes the card, and the customer lands on the success URL."""
    key = ARGS.live_key
    customer = api("POST", "/customers", {"name": "Dana Cohen", "phone": "052-1234567", "locale": locale}, key=key)["id"]
    s = api("POST", "/checkout_sessions", {"customer": customer, "line_items": CART, "locale": locale,
                                           "success_url": ARGS.base + "/healthz?paid={CHECKOUT_SESSION_ID}",
                                           "cancel_url": ARGS.base + "/healthz?canceled=1"}, key=key)
    driver.get(s["url"])
    check_accessibility(driver)
    assert not driver.find_elements(By.ID, "number"), "the live page must not ask for the card number"
    phone = driver.find_element(By.ID, "payer_phone").get_attribute("value")
    assert phone.replace("-", "").endswith("521234567"), "the payer's phone is not prefilled: %r" % phone
    os.makedirs(ARGS.screenshots, exist_ok=True)
    driver.save_screenshot(os.path.join(ARGS.screenshots, "checkout-live-%s-1280.png" % locale))
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button.pay-button"))
    assert "/far?l=" in driver.current_url, driver.current_url
    driver.find_element(By.NAME, "card").send_keys("4580458045804580")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/far/pay'] button"))
    expect_success(driver, s["id"])
    charges = api("GET", "/charges?limit=1", key=key)
    assert charges and charges[0]["status"] == "succeeded" and charges[0]["livemode"] is True, charges
    assert charges[0]["checkout_session"] == s["id"], charges[0]


FLOWS = [cart_with_discount, decline_then_success, three_d_secure, mixed_plan_with_trial, manual_capture, setup_session,
         cancel_to_merchant, expired_session, without_javascript, billing_portal, live_checkout]


def screenshots(driver):
    """The checkout page (cart, mixed with trial, error state) and the billing portal at 375 and 1280 px, in Hebrew and English."""
    os.makedirs(ARGS.screenshots, exist_ok=True)
    product = api("POST", "/products", {"name": "Coffee club", "description": "A bag every month"})["id"]
    price = api("POST", "/prices", {"product": product, "unit_amount": 4900, "type": "recurring",
                                   "recurring": {"interval": "month", "trial_period_days": 14}})["id"]
    for locale in ["he", "en"]:
        pages = {"cart": session(locale, line_items=CART)["url"],
                 "mixed-trial": session(locale, price=price, line_items=[{"name": "Grinder", "amount_agorot": 25000}])["url"]}
        error_url = session(locale, line_items=CART)["url"]
        pages["portal"] = portal_session(locale, email="dana.%s@example.com" % locale)[2]["url"]
        for width, height in [(375, 1300), (1280, 1100)]:
            driver.set_window_size(width, height)
            for name, url in pages.items():
                driver.get(url)
                driver.save_screenshot(os.path.join(ARGS.screenshots, "%s-%s-%d.png" % (name if name == "portal" else "checkout-" + name, locale, width)))
            driver.get(error_url)
            fill_card(driver, "4242424242424241", exp="01/20")
            driver.save_screenshot(os.path.join(ARGS.screenshots, "checkout-error-%s-%d.png" % (locale, width)))
    driver.set_window_size(1280, 1000)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    for name in ["base", "key", "live-key", "database", "screenshots", "chromium", "chromedriver"]:
        parser.add_argument("--" + name, required=True)
    ARGS = parser.parse_args()
    started = time.time()
    driver = browser()
    passed = failed = 0
    try:
        for flow in FLOWS:
            for locale in ["he", "en"]:
                name = "%s (%s)" % (flow.__name__.replace("_", " "), locale)
                try:
                    flow(driver, locale)
                    passed += 1
                    print("✔ " + name, flush=True)
                except Exception as error:
                    failed += 1
                    print("✘ %s: %s" % (name, error), flush=True)
                    traceback.print_exc(limit=2)
        try:
            screenshots(driver)
            passed += 1
            print("✔ screenshots written to " + ARGS.screenshots, flush=True)
        except Exception as error:
            failed += 1
            print("✘ screenshots: %s" % error, flush=True)
    finally:
        driver.quit()
    print("Browser suite took %.1f s" % (time.time() - started))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
