"""A real SMTP server for the email tests (aiosmtpd): it keeps every message it accepts as a file,
offers STARTTLS with the certificate it is given, and answers by recipient:
tempfail@... with 451 (try again later), reject@... with 550 (no such user)."""
import argparse, os, ssl, sys, time
from aiosmtpd.controller import Controller


class Keeper:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("tempfail@"):
            return "451 4.3.0 Try again later"
        if address.startswith("reject@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.folder, "%04d.eml" % self.count)
        with open(name + ".tmp", "wb") as message:
            message.write(envelope.original_content)
        with open(name + ".envelope", "w") as meta:
            meta.write("%s\n%s\n%s\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos), "tls" if session.ssl else "plain"))
        os.rename(name + ".tmp", name)
        return "250 Message accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--forever", action="store_true", help="run until killed (by default, until stdin closes)")
    args = parser.parse_args()
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    controller = Controller(Keeper(args.folder), hostname="127.0.0.1", port=args.port, tls_context=context, require_starttls=False)
    controller.start()
    print("ready", flush=True)
    try:
        if args.forever:
            while True:
                time.sleep(3600)
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
