/* test_grouper_view.c: the view rules (daemon/grouper_view.c): which instances count as
 * one of the four screening views and which one fills a view when several do. */
#include <stdlib.h>

#include "daemon/grouper_view.h"
#include "tests/check.h"

#define MG_PRES "1.2.840.10008.5.1.4.1.1.1.2"
#define MG_PROC "1.2.840.10008.5.1.4.1.1.1.2.1"
#define DBT "1.2.840.10008.5.1.4.1.1.13.1.3"

static dcm_instance_info info(const char *cls, const char *lat, const char *pos, const char *code,
                              const char *mods) {
    dcm_instance_info i;
    memset(&i, 0, sizeof i);
    snprintf(i.sop_class_uid, sizeof i.sop_class_uid, "%s", cls);
    snprintf(i.image_laterality, sizeof i.image_laterality, "%s", lat);
    snprintf(i.view_position, sizeof i.view_position, "%s", pos);
    snprintf(i.view_code, sizeof i.view_code, "%s", code);
    snprintf(i.view_modifiers, sizeof i.view_modifiers, "%s", mods);
    return i;
}

static const char *key_of(dcm_instance_info i) {
    static grouper_view v;
    grouper_view_classify(&i, &v);
    return v.key;
}

static db_instance inst(const char *sop, const char *key, const char *intent, const char *acq,
                        int64_t received) {
    db_instance d;
    memset(&d, 0, sizeof d);
    snprintf(d.sop_uid, sizeof d.sop_uid, "%s", sop);
    snprintf(d.view_key, sizeof d.view_key, "%s", key);
    snprintf(d.presentation_intent, sizeof d.presentation_intent, "%s", intent);
    snprintf(d.sop_class, sizeof d.sop_class, "%s", strcmp(intent, "FOR PROCESSING") ? MG_PRES : MG_PROC);
    snprintf(d.acq_datetime, sizeof d.acq_datetime, "%s", acq);
    d.received_at = received;
    return d;
}

int main(void) {
    grouper_view v;
    /* The four views from ViewPosition, and from the View Code Sequence alone
     * (legacy SRT and SNOMED CT codes). */
    CHECK_STR(key_of(info(MG_PRES, "L", "CC", "", "")), "L-CC");
    CHECK_STR(key_of(info(MG_PRES, "R", "MLO", "", "")), "R-MLO");
    CHECK_STR(key_of(info(MG_PRES, "R", "", "R-10242", "")), "R-CC");
    CHECK_STR(key_of(info(MG_PRES, "L", "", "399368009", "")), "L-MLO");
    CHECK_STR(key_of(info(MG_PRES, "L", "cc", "R-10242", "")), "L-CC");
    /* Implant-displaced views count, by modifier code (SRT or SCT) or by "CC ID". */
    dcm_instance_info id = info(MG_PRES, "L", "CC", "R-10242", "R-102D5");
    grouper_view_classify(&id, &v);
    CHECK_STR(v.key, "L-CC");
    CHECK(v.implant_displaced == 1);
    CHECK_STR(key_of(info(MG_PRES, "R", "MLO ID", "", "")), "R-MLO");
    CHECK_STR(key_of(info(MG_PRES, "R", "MLO", "", "399209000")), "R-MLO");
    /* Spot compression and magnification do not count, alone or with other modifiers. */
    dcm_instance_info spot = info(MG_PRES, "L", "CC", "", "R-102D7");
    grouper_view_classify(&spot, &v);
    CHECK_STR(v.key, "");
    CHECK(v.why_not && strstr(v.why_not, "spot"));
    CHECK_STR(key_of(info(MG_PRES, "L", "CC", "", "399055006")), "");
    CHECK_STR(key_of(info(MG_PRES, "R", "MLO", "", "R-102D5\\R-102D6")), "");
    CHECK_STR(key_of(info(MG_PRES, "R", "MLO", "", "399163009")), "");
    /* Other views, bilateral or missing laterality, disagreeing tags, tomosynthesis. */
    CHECK_STR(key_of(info(MG_PRES, "L", "ML", "", "")), "");
    CHECK_STR(key_of(info(MG_PRES, "L", "XCCL", "", "")), "");
    CHECK_STR(key_of(info(MG_PRES, "B", "CC", "", "")), "");
    CHECK_STR(key_of(info(MG_PRES, "", "CC", "", "")), "");
    CHECK_STR(key_of(info(MG_PRES, "L", "CC", "R-10226", "")), "");
    CHECK_STR(key_of(info(MG_PRES, "L", "", "", "")), "");
    CHECK_STR(key_of(info(DBT, "L", "CC", "", "")), "");
    CHECK_STR(key_of(info("1.2.840.10008.5.1.4.1.1.7", "L", "CC", "", "")), "");
    /* For Processing is a view too (the selection prefers For Presentation). */
    dcm_instance_info proc = info(MG_PROC, "R", "CC", "", "");
    grouper_view_classify(&proc, &v);
    CHECK_STR(v.key, "R-CC");
    CHECK(v.for_processing == 1);

    CHECK(grouper_view_index("L-CC") == 0 && grouper_view_index("R-MLO") == 3);
    CHECK(grouper_view_index("") == -1 && grouper_view_index("X") == -1);

    /* Selection. */
    db_instance list[8];
    int idx[GROUPER_N_VIEWS];
    list[0] = inst("1.1", "L-CC", "FOR PROCESSING", "20240101100500", 5);
    list[1] = inst("1.2", "L-CC", "FOR PRESENTATION", "20240101100000", 1);  /* preferred: presentation */
    list[2] = inst("1.3", "R-CC", "FOR PRESENTATION", "20240101100000", 2);
    list[3] = inst("1.4", "R-CC", "FOR PRESENTATION", "20240101101000", 3);  /* retake: later */
    list[4] = inst("1.5", "L-MLO", "FOR PRESENTATION", "20240101100000", 4);
    list[5] = inst("1.6", "", "FOR PRESENTATION", "20240101110000", 6);      /* spot: never */
    CHECK(grouper_view_select(list, 6, idx) == 3);
    CHECK(idx[0] == 1);
    CHECK(idx[1] == 4);
    CHECK(idx[2] == 3);
    CHECK(idx[3] == -1);
    /* The retake wins also when it arrived first (out of order). */
    list[6] = inst("1.7", "R-MLO", "FOR PRESENTATION", "20240101120000", 1);
    list[7] = inst("1.8", "R-MLO", "FOR PRESENTATION", "20240101110000", 9);
    CHECK(grouper_view_select(list, 8, idx) == 4);
    CHECK(idx[3] == 6);
    /* Same acquisition time: the later received wins; prefer() is antisymmetric. */
    db_instance a = inst("1.9", "L-CC", "FOR PRESENTATION", "20240101100000", 10);
    db_instance b = inst("1.10", "L-CC", "FOR PRESENTATION", "20240101100000", 11);
    CHECK(grouper_view_prefer(&b, &a) > 0 && grouper_view_prefer(&a, &b) < 0);
    db_instance noacq = inst("1.11", "L-CC", "FOR PRESENTATION", "", 99);
    CHECK(grouper_view_prefer(&a, &noacq) > 0);
    CHECK(grouper_view_select(list, 0, idx) == 0 && idx[0] == -1);
    CHECK_DONE();
}
