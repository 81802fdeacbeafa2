"""A bad configuration stops start-up with "file:line: reason" on stderr and
a non-zero exit, before anything is bound or started."""

import subprocess

from conftest import BUILD


def run_master(tmp_path, conf_text, master_text=None):
    conf = tmp_path / "tern.conf"
    conf.write_text(f"queue_directory = {tmp_path}/queue\n" + conf_text)
    if master_text is not None:
        (tmp_path / "master.conf").write_text(master_text)
    return subprocess.run([str(BUILD / "bin" / "master"), "-c", str(conf), "-f"],
                          capture_output=True, text=True, timeout=30)


def test_unknown_key(tmp_path):
    r = run_master(tmp_path, "\n# comment\nno_such_key = 1\n")
    assert r.returncode != 0
    assert f"{tmp_path}/tern.conf:4:" in r.stderr and "no_such_key" in r.stderr


def test_bad_value(tmp_path):
    r = run_master(tmp_path, "message_size_limit = lots\n")
    assert r.returncode != 0
    assert f"{tmp_path}/tern.conf:2:" in r.stderr and "message_size_limit" in r.stderr


def test_bad_service_table(tmp_path):
    r = run_master(tmp_path, "", "smtpd  tcp  127.0.0.1:1  -  n  1  smtpd\n")
    assert r.returncode != 0
    assert f"{tmp_path}/master.conf:1:" in r.stderr


def test_missing_config_file(tmp_path):
    r = subprocess.run([str(BUILD / "bin" / "master"), "-c", str(tmp_path / "nope.conf"), "-f"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "nope.conf" in r.stderr


def test_check_mode_touches_nothing(tmp_path):
    """master -n reads and checks both files, says so and exits; it creates
    no queue directory, binds nothing, starts nothing."""
    conf = tmp_path / "tern.conf"
    conf.write_text(f"queue_directory = {tmp_path}/queue\ndaemon_directory = {BUILD}/bin\n"
                    f"master_config = {tmp_path}/master.conf\n"
                    # an account every Debian system has: on a fresh machine
                    # no earlier test has created the tern user yet
                    f"mail_owner = nobody\n")
    (tmp_path / "master.conf").write_text("smtpd  inet  127.0.0.1:1  -  n  1  smtpd\n")
    r = subprocess.run([str(BUILD / "bin" / "master"), "-n", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{conf}: configuration ok, 1 service(s)\n"
    assert not (tmp_path / "queue").exists()
    conf.write_text(conf.read_text() + "smtpd_timeout = soon\n")
    r = subprocess.run([str(BUILD / "bin" / "master"), "-n", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert f"{conf}:5:" in r.stderr and "smtpd_timeout" in r.stderr
