"""Bibliographic sources of every scoring rule, in one place so code and docs cite the same text."""

from __future__ import annotations

KOOS_2012 = (
    "KOOS Scoring 2012 (koos.nu, August 2012); Roos EM, Lohmander LS. The Knee injury and "
    "Osteoarthritis Outcome Score (KOOS): from joint injury to osteoarthritis. "
    "Health Qual Life Outcomes 2003;1:64."
)
KOOS_1998 = "KOOS user's guide (1998): at most 2 missing items per subscale."
KOOS_WOMAC = (
    "KOOS Scoring 2012 (koos.nu): WOMAC LK3.0 pain (P5-P9), stiffness (S6-S7) and function "
    "(A1-A17) derived from KOOS answers, reported 0-100 with 100 = no problems."
)
WOMAC_GUIDE = (
    "WOMAC 3.1 user's guide (Bellamy N), as commonly quoted; function rule checked in "
    "Whitehouse SL et al., J Bone Joint Surg Br 2004;86-B Suppl IV:469."
)
KOOS12 = (
    "Gandek B, Roos EM, Franklin PD, Ware JE Jr. Osteoarthritis Cartilage 2019;27:746-753 "
    "and 762-770 (KOOS-12); koos.nu."
)
KOOS_JR = (
    "Lyman S, Lee YY, Franklin PD, Li W, Cross MB, Padgett DE. Validation of the KOOS, JR: "
    "a short-form knee arthroplasty outcomes survey. Clin Orthop Relat Res 2016;474:1461-1471."
)
VAS = (
    "Pain visual analogue scale, 100 mm line from 0 (no pain) to 100 (worst imaginable), "
    "recorded in whole mm; as used by Tubach et al., Ann Rheum Dis 2005;64:29-33."
)
PGA = (
    "Patient global assessment of disease activity, 100 mm line (0 = very well, 100 = very "
    "poor); Pham T et al., Osteoarthritis Cartilage 2004;12:389-399."
)
TUBACH_MCII = (
    "Tubach F, Ravaud P, Baron G, et al. Evaluation of clinically relevant changes in patient "
    "reported outcomes in knee and hip osteoarthritis: the minimal clinically important "
    "improvement. Ann Rheum Dis 2005;64:29-33."
)
TUBACH_ACCEPTABLE_STATE = (
    "Tubach F, Ravaud P, Baron G, et al. Evaluation of clinically relevant states in patient "
    "reported outcomes in knee and hip osteoarthritis: the patient acceptable symptom state. "
    "Ann Rheum Dis 2005;64:34-37."
)
MONTICONE_2013 = (
    "Monticone M, Ferrante S, Salvaderi S, et al. Responsiveness and minimal important changes "
    "for the Knee Injury and Osteoarthritis Outcome Score in subjects undergoing rehabilitation "
    "after total knee arthroplasty. Am J Phys Med Rehabil 2013;92:864-870."
)
PHAM_2004 = (
    "Pham T, van der Heijde D, Altman RD, et al. OMERACT-OARSI initiative: Osteoarthritis "
    "Research Society International set of responder criteria for osteoarthritis clinical "
    "trials revisited. Osteoarthritis Cartilage 2004;12:389-399."
)
REGISTRY_CHOICE = "Registry's documented choice (no published rule found); see README."
ICHOM_HIP_KNEE = (
    "Rolfson O, Wilkie R, Bhandari M, et al. Patient-reported outcome measures in arthroplasty "
    "registries: ICHOM standard set for hip and knee osteoarthritis. Acta Orthop "
    "2016;87(Suppl 1):3-12 (PMC5129496): pain on a 0-10 numeric rating scale; KOOS-PS."
)
NRS = (
    "Pain numeric rating scale, whole numbers 0 (no pain) to 10 (worst pain imaginable); the "
    f"pain measure of the ICHOM hip and knee OA standard set. {ICHOM_HIP_KNEE}"
)
PERROT_2013 = (
    "Perrot S, Bertin P. 'Feeling better' or 'feeling well' in usual care of hip and knee "
    "osteoarthritis pain: determination of cutoff points for patient acceptable symptom state "
    "(PASS) and minimal clinically important improvement (MCII) at rest and on movement in a "
    "national multicenter cohort study of 2414 patients with painful osteoarthritis. Pain "
    "2013;154:248-256. Abstract checked: after 7 days of usual treatment, PASS 4 (at rest) and "
    "5 (on movement) on a 0-10 NRS; MCII -1 NRS point."
)
SALAFFI_2004 = (
    "Salaffi F, Stancati A, Silvestri CA, Ciapetti A, Grassi W. Minimal clinically important "
    "changes in chronic musculoskeletal pain intensity measured on a numerical rating scale. "
    "Eur J Pain 2004;8:283-291 (PMID 15207508). Abstract checked: MCID a reduction of 1 point "
    "or 15 %; 'much better' -2 points or -33 % (825 patients, 233 with knee OA)."
)
GRC = (
    "Global rating of change: one 7-point anchor question (much worse ... much better) at "
    "follow-up, registry-own wording. Kamper SJ, Maher CG, Mackay G. Global rating of change "
    "scales: a review of strengths and weaknesses and considerations for design. J Man Manip "
    "Ther 2009;17:163-170 (abstract checked, PMID 20046623)."
)
TERWEE_2021 = (
    "Terwee CB, Peipert JD, Chapman R, et al. Minimal important change (MIC): a conceptual "
    "clarification and systematic review of MIC estimates of PROMIS measures. Qual Life Res "
    "2021;30:2729-2754 (abstract checked, PMID 34247326)."
)
KOOS_PS = (
    "Perruccio AV, Lohmander LS, Canizares M, et al. The development of a short measure of "
    "physical function for knee OA KOOS-Physical Function Shortform (KOOS-PS) - an "
    "OARSI/OMERACT initiative. Osteoarthritis Cartilage 2008;16:542-550; koos.nu. Conversion "
    "table (raw sum 0-28 -> 0-100, 0 = no difficulty) checked against a published open-source "
    "implementation (awell-health/awell-score, koos_ps), which prints it in the reverse "
    "direction; the paper itself was not available to check."
)
KOOS_MIC_NONSURGICAL_2025 = (
    "Minimal important change for improvement in the KOOS in mild to moderate knee OA: "
    "secondary analysis of a three-arm randomised trial of non-surgical treatment (131 "
    "patients, GROC anchor, 4-month follow-up), predictive modelling method; 2025, PubMed "
    "41367621. Values checked against the abstract: Pain 11.3, Symptoms 12.1, ADL 10.2, "
    "Sport/Rec 15.5, QOL 13.2. First author and journal not verified."
)
