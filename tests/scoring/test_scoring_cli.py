"""``python -m scoring``: outputs, carried-through columns, and error exits (status 2)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest

from scoring import cli
from scoring.instruments import INSTRUMENTS

KOOS_CODES = list(INSTRUMENTS["koos"].item_codes)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def read_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def koos_csv(rows, extra_first=("id",), extra_last=("note",)):
    lines = [",".join([*extra_first, *KOOS_CODES, *extra_last])]
    lines += [",".join(row) for row in rows]
    return "\n".join(lines) + "\n"


def test_subprocess_koos_to_stdout(tmp_path, repo_root):
    all_ones = ["007", *["1"] * 42, "NA"]
    sparse = ["0012", *[""] * 42, "x"]
    source = write(tmp_path / "in.csv", koos_csv([all_ones, sparse]))
    done = subprocess.run(
        [sys.executable, "-m", "scoring", "koos", str(source)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = read_rows(done.stdout)
    header = done.stdout.splitlines()[0].split(",")
    assert header == ["id", *KOOS_CODES, "note", *INSTRUMENTS["koos"].score_codes]
    assert rows[0]["id"] == "007"  # text carried through as is
    assert rows[0]["note"] == "NA"
    assert float(rows[0]["koos_pain"]) == 75.0
    assert float(rows[0]["koos_womac_function"]) == 75.0
    assert rows[1]["id"] == "0012"
    assert rows[1]["koos_pain"] == ""  # not computable -> empty


def test_main_womac_to_file(tmp_path):
    codes = list(INSTRUMENTS["womac"].item_codes)
    answers = ["1", "2", "3", "0", ""] + ["2", "1"] + ["1"] * 17  # pain: 6 + mean 1.5
    source = write(tmp_path / "w.csv", ",".join(codes) + "\n" + ",".join(answers) + "\n")
    target = tmp_path / "out.csv"
    assert cli.main(["womac", str(source), "-o", str(target)]) == 0
    row = read_rows(target.read_text())[0]
    assert float(row["womac_pain"]) == 7.5
    assert float(row["womac_stiffness"]) == 3.0
    assert float(row["womac_total"]) == 27.5
    assert float(row["womac_pain_norm"]) == pytest.approx(37.5)
    assert row["P5"] == ""


def test_unrounded_output(tmp_path):
    header = ",".join(INSTRUMENTS["koos12"].item_codes)
    source = write(tmp_path / "k.csv", header + "\n1,0,0,0" + "," * 8 + "\n")
    target = tmp_path / "o.csv"
    assert cli.main(["koos12", str(source), "-o", str(target)]) == 0
    row = read_rows(target.read_text())[0]
    assert row["koos12_pain"] == "93.75"
    assert row["koos12_summary"] == ""


def test_koos_missing_rule_option(tmp_path):
    header = ",".join(KOOS_CODES)
    row = ["2"] * 5 + [""] * 2 + ["2"] * 35  # Symptoms 5 of 7 answered
    row[7:9] = ["", ""]  # Pain 7 of 9
    row[9] = ""  # Pain 6 of 9: scored under 2012 only
    source = write(tmp_path / "k.csv", header + "\n" + ",".join(row) + "\n")
    for rule, expected in (("2012", "50.0"), ("1998", "")):
        out = tmp_path / f"o{rule}.csv"
        assert cli.main(["koos", str(source), "-o", str(out), "--koos-missing-rule", rule]) == 0
        assert read_rows(out.read_text())[0]["koos_pain"] == expected


def test_chunks_and_row_numbers(tmp_path, capsys):
    lines = ["id,VAS"] + [f"{n},{n % 100}" for n in range(25)] + ["25,100.5"]
    source = write(tmp_path / "v.csv", "\n".join(lines) + "\n")
    target = tmp_path / "o.csv"
    assert cli.main(["vas", str(source), "-o", str(target), "--chunk-rows", "7"]) == 2
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1
    assert "data row 26" in message[0]
    assert "column VAS" in message[0]
    assert not target.exists()
    assert os.listdir(tmp_path) == ["v.csv"]  # no temporary file left behind
    lines[-1] = "25,100"
    write(source, "\n".join(lines) + "\n")
    assert cli.main(["vas", str(source), "-o", str(target), "--chunk-rows", "7"]) == 0
    assert [r["vas_pain"] for r in read_rows(target.read_text())][-2:] == ["24.0", "100.0"]


@pytest.mark.parametrize(
    ("instrument", "content", "expected"),
    [
        ("vas", "VAS\n101\n", "data row 1 (1-based, header not counted), column VAS"),
        ("vas", "id,VAS\n1,50\n2,abc\n", "data row 2 (1-based, header not counted), column VAS"),
        ("koosjr", "S6,P2,P3,P6,P9,A3,A5\n0,0,0,0,0,0,2.5\n", "column A5"),
        ("koosjr", "S6,P2,P3,P6,P9,A3,A5\n0,0,0,0,0,5,0\n", "column A3"),
        ("koosjr", "S6,P2,P3,P6,P9,A3,A5\n0,0,0,NA,0,0,0\n", "'NA' is not a number"),
        ("koosjr", "S6,P2,P3,P6,P9,A3\n0,0,0,0,0,0\n", "column A5: required column is missing"),
        ("vas", "", "empty"),
        ("vas", "VAS,VAS\n1,2\n", "appears twice"),
        ("vas", "VAS\n1,2\n", "data row 1"),
        ("vas", "VAS,vas_pain\n1,2\n", "column vas_pain"),
    ],
)
def test_bad_input_exits_2(tmp_path, capsys, instrument, content, expected):
    source = write(tmp_path / "bad.csv", content)
    target = tmp_path / "out.csv"
    assert cli.main([instrument, str(source), "-o", str(target)]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""
    assert sorted(os.listdir(tmp_path)) == ["bad.csv"]


def test_bad_input_subprocess_leaves_no_file(tmp_path, repo_root):
    source = write(tmp_path / "bad.csv", "VAS\n5\n-3\n")
    target = tmp_path / "out.csv"
    done = subprocess.run(
        [sys.executable, "-m", "scoring", "vas", str(source), "-o", str(target)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "data row 2" in done.stderr
    assert "column VAS" in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["bad.csv"]


def test_missing_file_and_usage(tmp_path, capsys):
    assert cli.main(["vas", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["sf36", "x.csv"]) == 2
    assert cli.main(["--help"]) == 0


def test_header_only_and_quoted_fields(tmp_path):
    source = write(tmp_path / "h.csv", "note,VAS\n")
    target = tmp_path / "o.csv"
    assert cli.main(["vas", str(source), "-o", str(target)]) == 0
    assert target.read_text() == "note,VAS,vas_pain\n"
    write(source, 'note,VAS\n"a, ""b""",40\n')
    assert cli.main(["vas", str(source), "-o", str(target)]) == 0
    assert read_rows(target.read_text())[0] == {"note": 'a, "b"', "VAS": "40", "vas_pain": "40.0"}


# --- Headers as spreadsheets write them ------------------------------------------------


def _subprocess(repo_root, *args):
    return subprocess.run(
        [sys.executable, "-m", "scoring", *map(str, args)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
    )


def _click(*args):
    """``registry score …`` through click's runner (no database needed)."""
    from click.testing import CliRunner

    from registry.cli import score_command

    return CliRunner().invoke(score_command, [str(arg) for arg in args])


def test_trailing_comma_on_every_line_as_excel_writes_it(tmp_path, repo_root):
    """The empty, unnamed last column is left out (with a note), not a traceback."""
    source = write(tmp_path / "excel.csv", "id,VAS,\r\n1,50,\r\n2,30,\r\n")
    target = tmp_path / "out.csv"
    done = _subprocess(repo_root, "vas", source, "-o", target)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == ("python -m scoring: note: left out the empty column "
                                   "without a name (column 3)")
    assert target.read_text() == "id,VAS,vas_pain\n1,50,50.0\n2,30,30.0\n"
    result = _click("vas", source)
    assert result.exit_code == 0, result.output
    assert result.stdout == "id,VAS,vas_pain\n1,50,50.0\n2,30,30.0\n"
    assert "column 3" in result.stderr


def test_several_empty_unnamed_columns_and_one_in_the_middle(tmp_path):
    source = write(tmp_path / "gaps.csv", "id,,VAS,,\n1,,50,,\n2,,30\n")
    target = tmp_path / "out.csv"
    assert cli.main(["vas", str(source), "-o", str(target)]) == 0
    assert read_rows(target.read_text()) == [{"id": "1", "VAS": "50", "vas_pain": "50.0"},
                                             {"id": "2", "VAS": "30", "vas_pain": "30.0"}]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("id,VAS,\n1,50,\n2,30,oops\n",
         "data row 2 (1-based, header not counted), column 3: holds 'oops' but has no name"),
        ("id,VAS,id\n1,50,2\n", "column id: the name appears twice (columns 1 and 3)"),
        ("VAS,VAS,\n1,2,\n", "column VAS: the name appears twice (columns 1 and 2)"),
        (",,\n1,2,\n", "no column has a name"),
    ],
)
def test_unnamed_or_duplicate_columns_exit_2_with_one_message(tmp_path, repo_root, content,
                                                              expected):
    source = write(tmp_path / "bad.csv", content)
    target = tmp_path / "out.csv"
    done = _subprocess(repo_root, "vas", source, "-o", target)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert expected in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["bad.csv"]
    result = _click("vas", source)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stdout == ""
