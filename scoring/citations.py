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
