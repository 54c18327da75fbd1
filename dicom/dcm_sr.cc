/* dcm_sr.cc: the Mammography CAD SR of a scored study (see dcm_sr.h and docs/results.md).
 * DCMTK 3.6.7 has no TID 4000 builder, so the tree is built item by item with
 * DSRDocumentTree, whose Mammography CAD SR constraint checker refuses any relationship
 * the IOD does not allow; the root carries the template identification (4000, DCMR). */
#include "dicom/dcm_sr.h"

#include "dicom/dcm_derived.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/codes/sct.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

using dcm_derived::set_err;

namespace {

/* CID 6022 Side (SCT) */
const DSRBasicCodedEntry kLeftBreast("80248007", "SCT", "Left breast");
const DSRBasicCodedEntry kRightBreast("73056007", "SCT", "Right breast");
/* CID 4014 View for Mammography (SCT) */
const DSRBasicCodedEntry kViewCC("399162004", "SCT", "cranio-caudal");
const DSRBasicCodedEntry kViewMLO("399368009", "SCT", "medio-lateral oblique");
/* Breast composition concept and CID 6001 Overall Breast Composition from BI-RADS (SCT
 * equivalents of SRT F-01710 .. F-01714; see docs/results.md) */
const DSRBasicCodedEntry kBreastComposition("129715009", "SCT", "Breast composition");
const DSRBasicCodedEntry kComposition[4] = {
    DSRBasicCodedEntry("129716005", "SCT", "Almost entirely fat"),
    DSRBasicCodedEntry("129717001", "SCT", "Scattered fibroglandular densities"),
    DSRBasicCodedEntry("129718006", "SCT", "Heterogeneously dense"),
    DSRBasicCodedEntry("129719003", "SCT", "Extremely dense"),
};
/* CID 6027 Assessment from BI-RADS (CID 6026 includes it) */
const DSRBasicCodedEntry kBirads[7] = {
    DSRBasicCodedEntry("397138000", "SCT", "0 - Incomplete - Need additional imaging evaluation +/- priors"),
    DSRBasicCodedEntry("397140005", "SCT", "1 - Negative"),
    DSRBasicCodedEntry("397141009", "SCT", "2 - Benign"),
    DSRBasicCodedEntry("397143007", "SCT", "3 - Probably Benign"),
    DSRBasicCodedEntry("397144001", "SCT", "4 - Suspicious"),
    DSRBasicCodedEntry("397145000", "SCT", "5 - Highly suggestive of malignancy"),
    DSRBasicCodedEntry("MA.II.A.5.6", "BI", "4.0", "6 - Known biopsy proven malignancy"),
};
const DSRBasicCodedEntry kNoUnits("1", "UCUM", "no units");

struct builder {
    DSRDocumentTree &tree;
    const char *what = "";
    OFCondition c = EC_Normal;

    explicit builder(DSRDocumentTree &t) : tree(t) {}

    /* Adds an item (below the current one when below, else after it) and names it. */
    bool add(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType vt,
             const DSRCodedEntryValue &concept, bool below, const char *label) {
        return add(rel, vt, &concept, below, label);
    }
    bool add(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType vt,
             const DSRCodedEntryValue *concept, bool below, const char *label) {
        what = label;
        if (tree.addContentItem(rel, vt, below ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent) == 0) {
            c = SR_EC_CannotAddContentItem;
            return false;
        }
        if (concept) c = tree.getCurrentContentItem().setConceptName(*concept);
        return c.good();
    }
    bool code(DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue &concept,
              const DSRCodedEntryValue &value, bool below, const char *label) {
        if (!add(rel, DSRTypes::VT_Code, concept, below, label)) return false;
        c = tree.getCurrentContentItem().setCodeValue(value);
        return c.good();
    }
    bool text(DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue &concept,
              const std::string &value, bool below, const char *label) {
        if (!add(rel, DSRTypes::VT_Text, concept, below, label)) return false;
        c = tree.getCurrentContentItem().setStringValue(value.c_str());
        return c.good();
    }
    void up() { tree.goUp(); }
};

const DSRBasicCodedEntry &side(char lat) { return lat == 'L' ? kLeftBreast : kRightBreast; }

/* Image Library (TID 4000 row: CONTAINER 111028) with one IMAGE per view (TID 4020):
 * returns the node ids so that each breast's impression can point at its images. */
bool image_library(builder &b, const dcm_sr_report *r, std::vector<size_t> &node_of_view) {
    if (!b.add(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImageLibrary, true, "Image Library"))
        return false;
    for (int i = 0; i < r->n_views; i++) {
        const dcm_sr_view &v = r->views[i];
        if (!b.add(DSRTypes::RT_contains, DSRTypes::VT_Image, static_cast<const DSRCodedEntryValue *>(nullptr), i == 0, "library image")) return false;
        b.c = b.tree.getCurrentContentItem().setImageReference(
            DSRImageReferenceValue(v.sop_class_uid, v.sop_instance_uid));
        if (b.c.bad()) return false;
        node_of_view.push_back(b.tree.getNodeID());
        if (!b.code(DSRTypes::RT_hasAcqContext, CODE_DCM_ImageLaterality, side(v.laterality), true,
                    "Image Laterality") ||
            !b.code(DSRTypes::RT_hasAcqContext, CODE_DCM_ImageView,
                    strcmp(v.view, "CC") == 0 ? kViewCC : kViewMLO, false, "Image View"))
            return false;
        b.up();
    }
    b.up();
    return true;
}

/* One breast's Individual Impression/Recommendation (TID 4003). */
bool impression(builder &b, const dcm_sr_report *r, const dcm_sr_breast &br, bool first,
                const std::vector<size_t> &node_of_view) {
    if (!b.add(DSRTypes::RT_inferredFrom, DSRTypes::VT_Container,
               CODE_DCM_IndividualImpressionRecommendation, first, "Individual Impression"))
        return false;
    const size_t container = b.tree.getNodeID();
    /* An untrained (demo) model may be shown, but nothing should insist on it. */
    if (!b.code(DSRTypes::RT_hasConceptMod, CODE_DCM_RenderingIntent,
                r->untrained ? CODE_DCM_PresentationOptional_RenderingDeviceMayPresent
                             : CODE_DCM_PresentationRequired_RenderingDeviceIsExpectedToPresent,
                true, "Rendering Intent") ||
        !b.code(DSRTypes::RT_hasConceptMod, CODE_SCT_Laterality, side(br.laterality), false, "Laterality"))
        return false;
    size_t evidence_from = 0;  /* the item that points at the images: the score, else the composition */
    if (br.density >= 0 && br.density < 4) {
        if (!b.code(DSRTypes::RT_contains, kBreastComposition, kComposition[br.density], false,
                    "Breast composition"))
            return false;
        evidence_from = b.tree.getNodeID();
    }
    if (br.p_cancer >= 0) {
        if (!b.add(DSRTypes::RT_contains, DSRTypes::VT_Num, CODE_DCM_ProbabilityOfCancer, false,
                   "Probability of cancer"))
            return false;
        char num[32];
        snprintf(num, sizeof num, "%.9g", br.p_cancer);
        b.c = b.tree.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(num, kNoUnits));
        if (b.c.bad()) return false;
        evidence_from = b.tree.getNodeID();
    }
    if (br.birads >= 0 && br.birads <= 6 &&
        !b.code(DSRTypes::RT_contains, CODE_DCM_AssessmentCategory, kBirads[br.birads], false,
                "Assessment Category"))
        return false;
    /* The images the values were inferred from: by reference into the library (the IOD
     * allows INFERRED FROM an IMAGE below a NUM or CODE, not below a CONTAINER). */
    for (int i = 0; evidence_from && i < r->n_views; i++) {
        if (r->views[i].laterality != br.laterality) continue;
        b.tree.gotoNode(evidence_from);
        b.what = "reference to a library image";
        if (b.tree.addByReferenceRelationship(DSRTypes::RT_inferredFrom, node_of_view[(size_t)i]) == 0) {
            b.c = SR_EC_InvalidByReferenceRelationship;
            return false;
        }
    }
    b.tree.gotoNode(container);
    return true;
}

/* TID 4019 Algorithm Identification, below the current item. */
bool algorithm(builder &b, const dcm_sr_report *r) {
    std::string version = std::string("model ") + (r->model_id ? r->model_id : "?") + ", mamad " +
                          (r->software_version ? r->software_version : "?");
    std::string status = r->untrained ? "model status: untrained demo model, NOT FOR DIAGNOSIS"
                                      : "model status: trained; not a substitute for a reading";
    return b.text(DSRTypes::RT_hasProperties, CODE_DCM_AlgorithmName, "MaMA (mamad)", true, "Algorithm Name") &&
           b.text(DSRTypes::RT_hasProperties, CODE_DCM_AlgorithmVersion, version, false, "Algorithm Version") &&
           b.text(DSRTypes::RT_hasProperties, CODE_DCM_AlgorithmParameters, status, false,
                  "Algorithm Parameters");
}

bool build_tree(builder &b, const dcm_sr_report *r) {
    if (!b.add(DSRTypes::RT_isRoot, DSRTypes::VT_Container, CODE_DCM_MammographyCADReport, false, "root"))
        return false;
    b.what = "template identification";
    b.c = b.tree.getCurrentContentItem().setTemplateIdentification("4000", "DCMR");
    if (b.c.bad()) return false;
    std::vector<size_t> node_of_view;
    if (!image_library(b, r, node_of_view)) return false;
    const DSRCodedEntryValue summary = r->n_breasts > 0 ? CODE_DCM_AllAlgorithmsSucceeded_withFindings
                                                        : CODE_DCM_AllAlgorithmsSucceeded_withoutFindings;
    if (!b.code(DSRTypes::RT_contains, CODE_DCM_CADProcessingAndFindingsSummary, summary, false,
                "CAD Processing and Findings Summary"))
        return false;
    const size_t summary_node = b.tree.getNodeID();
    for (int i = 0; i < r->n_breasts; i++) {
        if (!impression(b, r, r->breasts[i], i == 0, node_of_view)) return false;
    }
    b.tree.gotoNode(summary_node);
    /* No marks are placed: detection is not attempted; the whole-breast analyses are. */
    if (!b.code(DSRTypes::RT_contains, CODE_DCM_SummaryOfDetections, CODE_DCM_NotAttempted, false,
                "Summary of Detections") ||
        !b.code(DSRTypes::RT_contains, CODE_DCM_SummaryOfAnalyses, CODE_DCM_Succeeded, false,
                "Summary of Analyses") ||
        !b.code(DSRTypes::RT_inferredFrom, CODE_DCM_AnalysisPerformed,
                CODE_DCM_IndividualImpressionRecommendationAnalysis, true, "Analysis Performed") ||
        !algorithm(b, r))
        return false;
    return true;
}

int check_report(const dcm_sr_report *r, char *err, size_t errlen) {
    if (!r || !r->source_path || !r->uid_key || !r->series_key) {
        set_err(err, errlen, "SR: source image, uid key and series key are required");
        return -1;
    }
    if (r->n_views < 1) {
        set_err(err, errlen, "SR: no view to reference");
        return -1;
    }
    for (int i = 0; i < r->n_views; i++) {
        const dcm_sr_view &v = r->views[i];
        if (!v.sop_class_uid || !v.sop_instance_uid || !v.view || (v.laterality != 'L' && v.laterality != 'R') ||
            (strcmp(v.view, "CC") != 0 && strcmp(v.view, "MLO") != 0)) {
            set_err(err, errlen, "SR: view %d is not an L/R CC/MLO image with UIDs", i);
            return -1;
        }
    }
    for (int i = 0; i < r->n_breasts; i++)
        if (r->breasts[i].laterality != 'L' && r->breasts[i].laterality != 'R') {
            set_err(err, errlen, "SR: breast %d has no laterality", i);
            return -1;
        }
    return 0;
}

int write_sr(const char *path, const dcm_sr_report *r, char *out_sop_uid, char *err, size_t errlen) {
    if (check_report(r, err, errlen) != 0) return -1;
    DcmDataset patient;
    if (dcm_derived::copy_patient_study(r->source_path, &patient, err, errlen) != 0) return -1;
    OFString study_uid;
    patient.findAndGetOFString(DCM_StudyInstanceUID, study_uid);

    DSRDocument doc(DSRTypes::DT_MammographyCadSR);
    builder b(doc.getTree());
    if (!build_tree(b, r)) {
        set_err(err, errlen, "SR: cannot add %s: %s", b.what, b.c.text());
        return -1;
    }
    const std::string series_uid = dcm_derived::uid_for(r->series_key);
    const std::string sop_uid = dcm_derived::uid_for(r->uid_key);
    OFCondition c = doc.createNewSeriesInStudy(study_uid);
    char num[16];
    snprintf(num, sizeof num, "%d", r->version);
    if (c.good()) c = doc.setSeriesNumber("9901");
    if (c.good()) c = doc.setInstanceNumber(num);
    if (c.good()) c = doc.setSeriesDescription("MaMA CAD results (mamad)");
    if (c.good()) c = doc.setManufacturer("mamad");
    if (c.good()) c = doc.setManufacturerModelName("MaMA");
    if (c.good()) c = doc.setSoftwareVersions(r->software_version ? r->software_version : "");
    if (c.good()) c = doc.completeDocument(); /* COMPLETE: the document will not be amended */
    /* Current Requested Procedure Evidence: every image the result rests on. */
    for (int i = 0; c.good() && i < r->n_views; i++)
        c = doc.getCurrentRequestedProcedureEvidence().addItem(
            study_uid, r->views[i].series_uid ? r->views[i].series_uid : "", r->views[i].sop_class_uid,
            r->views[i].sop_instance_uid);
    if (c.bad()) {
        set_err(err, errlen, "SR: document attributes: %s", c.text());
        return -1;
    }
    DcmFileFormat ff;
    DcmDataset *ds = ff.getDataset();
    c = doc.write(*ds);
    if (c.bad()) {
        set_err(err, errlen, "SR: DCMTK refused the document: %s", c.text());
        return -1;
    }
    /* The patient and study exactly as the modality sent them; mamad's own identity. */
    for (unsigned long i = 0; i < patient.card(); i++) {
        DcmElement *e = OFstatic_cast(DcmElement *, patient.getElement(i)->clone());
        if (ds->insert(e, OFTrue).bad()) delete e;
    }
    ds->putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str());
    ds->putAndInsertString(DCM_SOPInstanceUID, sop_uid.c_str());
    if (r->content_datetime && strlen(r->content_datetime) >= 14) {
        std::string dt(r->content_datetime);
        ds->putAndInsertString(DCM_ContentDate, dt.substr(0, 8).c_str());
        ds->putAndInsertString(DCM_ContentTime, dt.substr(8, 6).c_str());
    }
    if (r->predecessor_key && r->predecessor_key[0]) {
        /* Predecessor Documents Sequence: the earlier version this one replaces. */
        DcmItem *study = nullptr, *series = nullptr, *sop = nullptr;
        const std::string prev = dcm_derived::uid_for(r->predecessor_key);
        if (ds->findOrCreateSequenceItem(DCM_PredecessorDocumentsSequence, study, 0).good() &&
            study->putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str()).good() &&
            study->findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, series, 0).good() &&
            series->putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str()).good() &&
            series->findOrCreateSequenceItem(DCM_ReferencedSOPSequence, sop, 0).good()) {
            sop->putAndInsertString(DCM_ReferencedSOPClassUID, DCM_SOP_MAMMO_CAD_SR);
            sop->putAndInsertString(DCM_ReferencedSOPInstanceUID, prev.c_str());
        }
    }
    if (dcm_derived::save_atomic(ff, path, err, errlen) != 0) return -1;
    if (out_sop_uid) snprintf(out_sop_uid, 65, "%s", sop_uid.c_str());
    return 0;
}

} // namespace

extern "C" int dcm_sr_write(const char *path, const dcm_sr_report *r, char *out_sop_uid, char *err,
                            size_t errlen) {
    try {
        return write_sr(path, r, out_sop_uid, err, errlen);
    } catch (const std::exception &e) {
        set_err(err, errlen, "SR %s: %s", path ? path : "?", e.what());
    } catch (...) {
        set_err(err, errlen, "SR %s: unexpected C++ exception", path ? path : "?");
    }
    return -1;
}

extern "C" void dcm_uid_for_key(const char *key, char *out_uid) {
    snprintf(out_uid, 65, "%s", dcm_derived::uid_for(key ? key : "").c_str());
}
