"""PII scrubbing on a planted set: fake numbers in counseling-style sentences, plus negatives."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest

from hearme.core import io
from hearme.converters.scrub import scrub_record, scrub_records, scrub_text

from tests.conftest import FIXTURES, run_hearme

FW = str.maketrans("0123456789", "０１２３４５６７８９")
AREAS = ["010", "021", "020", "022", "0755", "0571", "028", "0898", "0351"]
PROV = ["11", "31", "44", "51", "33", "42", "61", "65"]
PLACES = [("广东省", "深圳市", "南山区", "科技园路"), ("", "北京市", "海淀区", "学院路"), ("浙江省", "杭州市", "西湖区", "文三路"),
          ("", "上海市", "徐汇区", "漕溪北路"), ("四川省", "成都市", "武侯区", "人民南路"), ("", "", "朝阳区", "望京街"),
          ("湖北省", "武汉市", "洪山区", "珞喻路"), ("", "天津市", "南开区", "卫津路")]
ESTATES = ["阳光花园", "幸福家园", "翠湖小区", "金桥公寓", "锦绣新村"]
CONTEXT = ["{x}", "有事可以找我：{x}。", "我妈一直记着{x}，", "之前留过{x}，后来再也没联系。", "老师让我们写下{x}，我写了。",
           "如果你愿意，{x}，我们再聊聊。", "（{x}）", "他说{x}就能找到他。"]


def _id18(rng):
    body = rng.choice(PROV) + f"{rng.randint(1, 99):02d}{rng.randint(1, 99):02d}" + \
        f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * k for d, k in zip(body, w)) % 11]


def _mobile(rng):
    return f"1{rng.choice('3456789')}{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}"


def planted_cases(seed: int = 7) -> list[tuple[str, str, str]]:
    """(sentence, planted value, TYPE): 40 per type, 240 in all."""
    rng = random.Random(seed)
    cases = []
    for i in range(40):
        m = _mobile(rng)
        form = [m, f"{m[:3]} {m[3:7]} {m[7:]}", f"{m[:3]}-{m[3:7]}-{m[7:]}", f"+86 {m}", f"0086-{m}", m.translate(FW),
                f"(+86){m}", f"手机{m}"][i % 8]
        cases.append(("PHONE", form if not form.startswith("手机") else form, form.removeprefix("手机")))
        area, local = rng.choice(AREAS), f"{rng.randint(2, 9)}{rng.randint(0, 9999999):07d}"[: rng.choice((7, 8)) + 0]
        form = [f"{area}-{local}", f"({area}){local}", f"{area} {local}", f"{area}{local}", f"{area}-{local}转{rng.randint(1, 999)}",
                f"电话：{local[:4]}-{local[4:8] or '1234'}" if len(local) == 8 else f"{area}-{local}"][i % 6]
        cases.append(("PHONE", form, form.removeprefix("电话：")))
        ident = _id18(rng)
        form = [ident, f"身份证号{ident}", f"{ident[:6]} {ident[6:14]} {ident[14:]}",
                ident[:6] + ident[8:17], f"身份证：{ident.translate(FW)}"][i % 5]
        cases.append(("ID", form, re.sub(r"^(身份证号|身份证：)", "", form)))
        user = rng.choice(["zhang.wei", "li_na", "wangfang88", "xiaoming", "chen-yu"]) + str(rng.randint(1, 999))
        email = [f"{user}@example.com", f"{rng.randint(10000, 9999999999)}@qq.com", f"{user}@mail.example.edu.cn",
                 f"{user}@163.com"][i % 4]
        cases.append(("EMAIL", f"邮箱 {email}" if i % 2 else email, email))
        qq = str(rng.randint(10000, 99999999999))
        cases.append(("QQ", [f"QQ号：{qq}", f"qq {qq}", f"扣扣号是{qq}", f"加我QQ{qq}", f"QQ：{qq.translate(FW)}"][i % 5],
                      [qq, qq, qq, qq, qq.translate(FW)][i % 5]))
        wx = rng.choice(["xiaoyu_", "wxid_", "Sunny", "lin-", "moon"]) + str(rng.randint(1000, 999999))
        wform = [f"微信：{wx}", f"vx: {wx}", f"wx {wx}", f"微信号是{wx}", f"加我微信 {_mobile(rng)}", f"V信 {wx}"][i % 6]
        cases.append(("WECHAT", wform, wform.split()[-1] if " " in wform else re.split(r"[：是]", wform)[-1]))
        prov, city, dist, road = rng.choice(PLACES)
        num = rng.randint(1, 999)
        aform = [f"{prov}{city}{dist}{road}{num}号", f"{city}{dist}{road}{num}号{rng.randint(1, 30)}栋{rng.randint(101, 2505)}室",
                 f"{dist}{road}{num}号", f"{rng.choice(ESTATES)}{rng.randint(1, 20)}栋{rng.randint(1, 6)}单元{rng.randint(101, 2505)}室",
                 f"{road}{num}号院{rng.randint(1, 9)}号楼"][i % 5]
        cases.append(("ADDRESS", "住在" + aform if i % 3 == 0 else aform, aform))
    out = []
    for k, (kind, form, value) in enumerate(cases):
        out.append((CONTEXT[k % len(CONTEXT)].format(x=form), value, kind))
    return out


NEGATIVES = [
    "全国心理援助热线 400-161-9995，24 小时有人接听。", "北京心理危机研究与干预中心的电话是 010-82951332。",
    "青少年服务台 12355，心理援助热线 12356。", "遇到危险请拨打 110 或 120。", "2023年10月15日我第一次失眠。",
    "2023-10-15 那天我哭了很久。", "上周五 13:45 我开始心慌。", "我花了 13800 元报了一个课程。", "工资到手 8000 元，房租 3500。",
    "85% 的时间我都很焦虑。", "我 1998 年出生，今年 25 岁。", "体重从 65 公斤掉到了 52.5 公斤。", "这门课我考了 59 分。",
    "我们结婚 10 周年了。", "这是第 3 次复发。", "订单号 20231015123456 一直没有发货。", "¥1,299.00 的会员我没买。",
    "考研分数 385，排名第 12。", "房间号是 1202，但我没去。", "每天睡 4 到 5 个小时。", "在 3 号线上我突然喘不过气。",
    "我住在学校宿舍 5 楼。", "公交 101 路每天都挤。", "血压 140/90，医生说要注意。", "我看了《1984》这本书。",
    "微信上聊了 3 个小时。", "QQ 空间里全是以前的照片。", "我加了她的微信，但不敢说话。", "他的 qq 签名改了。",
    "手机用了 3 年，电池不行了。", "What is your name? My name is not important.", "The author of that book helped me.",
    "心理咨询每次 300 元，一共 10 次。", "GPA 3.2，我觉得不够好。", "我 16 岁那年父母离婚了。", "从 2019 年到 2023 年，我换了 4 份工作。",
    "时间是 2024/03/08 下午。", "温度 38.5 度，烧了三天。", "测评分数 SDS 62 分，SAS 55 分。", "1 月 2 日，我又一次失眠。",
    "电话费一个月 58 元。", "第 1 单元的作业还没写。", "她比我大 12 岁。", "离考试还有 100 天。", "跑了 5 公里，心情好些了。",
    "一天喝 3 杯咖啡。", "我们班 45 个人，只有我没去。", "12320 卫生热线说可以转心理科。", "存了 20000 块钱准备辞职。",
    "版本 v2.3.1 的软件总是崩溃。", "身份证丢了，补办要 20 天。", "家里 3 口人，住 80 平米。", "十一点半还在加班。",
    "2022年3月我确诊了抑郁症。", "120 急救车来的时候我已经醒了。", "我们小区有 12 栋楼。", "价格从 199 涨到了 1999。",
    "地铁 10 号线换 2 号线。", "我在 23 楼上班。", "这是 12356 热线的回访。", "分数线是 520 分。",
]


def test_planted_recall_and_precision():
    cases = planted_cases()
    assert len(cases) >= 200
    tp = fn = fp = exact = 0
    misses = []
    for text, value, kind in cases:
        out, counts = scrub_text(text)
        hit = counts[kind] >= 1 and value not in out
        exact += out == text.replace(value, f"[{kind}]")  # nothing around the value was taken
        tp += hit
        fn += not hit
        fp += sum(counts.values()) - (1 if hit else 0)
        if not hit:
            misses.append((kind, text, out))
    for text in NEGATIVES:
        out, counts = scrub_text(text)
        fp += sum(counts.values())
        if counts:
            misses.append(("negative", text, out))
    recall, precision = tp / (tp + fn), tp / (tp + fp)
    print(f"planted={len(cases)} negatives={len(NEGATIVES)} recall={recall:.3f} precision={precision:.3f} "
          f"exact-span={exact / len(cases):.3f}")
    assert recall >= 0.99, misses
    assert precision >= 0.95, misses
    assert exact / len(cases) >= 0.97


@pytest.mark.parametrize("text", NEGATIVES)
def test_negatives_untouched(text):
    assert scrub_text(text) == (text, {})


def test_context_around_pii_is_kept():
    out, _ = scrub_text("我住在北京市海淀区学院路37号，电话13912345678，邮箱a.b@example.com。")
    assert out == "我住在[ADDRESS]，电话[PHONE]，邮箱[EMAIL]。"
    out, _ = scrub_text("加我QQ：123456789或者微信：sunny_2024吧")
    assert out == "加我QQ：[QQ]或者微信：[WECHAT]吧"
    out, _ = scrub_text("单位电话（0755）4172898，手机（+86）13812345678。")
    assert out == "单位电话[PHONE]，手机[PHONE]。"


def test_id_checksum_decides_without_context():
    good = _id18(random.Random(1))
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    assert scrub_text(f"号码{good}")[0] == "号码[ID]"
    assert scrub_text(f"号码{bad}")[0] == f"号码{bad}"          # not an ID by checksum
    assert scrub_text(f"身份证{bad}")[0] == "身份证[ID]"       # ... unless it is called one


def test_scrub_record_counts_and_copies():
    tally = io.Tally()
    rec = {"messages": [{"role": "user", "content": "电话13812345678"}, {"role": "assistant", "content": "好的"}],
           "id": "x", "source": "t", "lang": "zh", "topic": ""}
    new = scrub_record(rec, tally)
    assert new["messages"][0]["content"] == "电话[PHONE]" and rec["messages"][0]["content"] == "电话13812345678"
    assert tally.notes["pii PHONE"] == 1


def test_scrub_cli_and_converters_scrub_by_default(tmp_path):
    rec = {"messages": [{"role": "user", "content": "我的邮箱是 x@example.com，电话 021-64381234"},
                        {"role": "assistant", "content": "谢谢你的信任。"}], "id": "r1", "source": "t", "lang": "zh", "topic": ""}
    src = io.write_json(tmp_path / "in.json", [rec])
    proc = run_hearme("scrub", src, "-o", tmp_path / "out.json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "read=1 written=1 rejected=0"
    assert "EMAIL=1" in proc.stdout and "PHONE=1" in proc.stdout
    out = json.loads((tmp_path / "out.json").read_text())
    assert out[0]["messages"][0]["content"] == "我的邮箱是 [EMAIL]，电话 [PHONE]"
    # The same through a converter, and kept with --no-scrub.
    fly = tmp_path / "f.jsonl"
    fly.write_text(json.dumps({"conversation": [{"human": "我的微信号是 moon_2024", "assistant": "收到"}]},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    run_hearme("convert", "firefly", fly, "-o", tmp_path / "a.json", check=True)
    assert "[WECHAT]" in (tmp_path / "a.json").read_text()
    run_hearme("convert", "firefly", fly, "-o", tmp_path / "b.json", "--no-scrub", check=True)
    assert "moon_2024" in (tmp_path / "b.json").read_text()


# ---------------------------------------------------------------- issue 10: the independent planted set

PII_FIX = FIXTURES / "pii"


def _planted(name):
    rows = [json.loads(line) for line in (PII_FIX / name).read_text(encoding="utf-8").splitlines()]
    return [(r["text"], [tuple(p) for p in r["pii"]]) for r in rows]


def test_planted_set_per_category():
    """>= 95% recall and precision in every category (benchmarks/bench_scrub.py prints the table)."""
    from hearme.converters.scrub import evaluate

    cases = _planted("planted.jsonl")
    kinds = Counter(k for _, pii in cases for k, _ in pii)
    assert sum(kinds.values()) >= 150 and sum(not pii for _, pii in cases) >= 60
    assert set(kinds) == {"PHONE", "ID", "EMAIL", "QQ", "WECHAT", "CARD", "URL", "ADDRESS", "NAME"}
    result = evaluate(cases)
    misses = result.pop("_misses")
    for kind, r in result.items():
        assert r["recall"] >= 0.95 and r["precision"] >= 0.95, (kind, r, misses)


def test_batch_gate_finds_what_the_patterns_find():
    """scrub_records' vectorised gate never hides a text that scrub_text would change."""
    texts = [t for t, _ in _planted("planted.jsonl") + _planted("heldout.jsonl") + _planted("planted_v2.jsonl")]
    texts += ["我同事张伟上大学时总熬夜", "上大学的同学李明很照顾我", "李老师说我上小学就这样", "我和王老师聊过",
              "班主任刘芳批评了我", "我男朋友陈浩最近很冷淡", "我表哥 赵强也这么说", "我前男友叫王磊", "朋友关系很好",
              "同学关系紧张", "我的大学老师周敏", "大学同学宋佳结婚了", "女士们先生们", "小姐姐很温柔", "我妈妈何丽总是唠叨"]
    records = [{"messages": [{"role": "user", "content": t}, {"role": "assistant", "content": "嗯，我在听。"}], "id": str(i)}
               for i, t in enumerate(texts)]
    tally = io.Tally()
    batch = scrub_records(records, tally)
    assert [r["messages"][0]["content"] for r in batch] == [scrub_text(t)[0] for t in texts]
    assert sum(v for k, v in tally.notes.items() if k.startswith("pii ")) == sum(sum(scrub_text(t)[1].values()) for t in texts)
