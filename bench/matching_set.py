"""A labelled set for sponsor matching: eight sponsors across public services, and ideas each labelled with
the sponsor a person reading both would pick.

The ideas are written as front-line staff would write them, not in the sponsors' words: other phrasings,
abbreviations, no theme on some, a submitter's department that differs from the best sponsor's on many,
and cross-cutting ones labelled with the best single fit. Three parts, in the order they were written:

- DEVELOPMENT: written first, with the sponsors, and used while the ranking was built.
- HELD_OUT: written when the ranking was first settled. Measured once (precision@1 0.826); two of its
  misses then showed defects that were fixed in general terms (a verb folded into a synonym, "wasted" into
  waste; size words such as "big" counting as interests), so it is no longer unseen.
- FRESH: written after the last change to the ranking, and measured once.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matching.ranking import Candidate, IdeaText

HEALTH, HOUSING, BENEFITS, TRANSPORT, JUSTICE, ENVIRONMENT, EDUCATION, DIGITAL = range(1, 9)

SPONSORS = [
    Candidate(
        sponsor_id=HEALTH,
        name="Helen Okafor",
        department="Health",
        themes="Health, Social care",
        interests=(
            "I lead on outpatient services and primary care. I want to hear about anything that cuts waiting "
            "lists or stops appointments being wasted: missed appointments, referrals that bounce between GP "
            "surgeries and hospital clinics, delays in discharging people from the wards. I am also keen on "
            "support for unpaid carers and on getting medication to people who are housebound."
        ),
        capacity=3,
        load=1,
    ),
    Candidate(
        sponsor_id=HOUSING,
        name="Marcus Bell",
        department="Housing",
        themes="Housing, Homelessness",
        interests=(
            "Council housing and tenancy services. The big ones for me are repairs (tenants waiting weeks for a "
            "plumber), damp and mould, empty homes that take too long to relet, and preventing homelessness: "
            "getting people into settled accommodation faster and out of B&Bs. Interested in anything that "
            "helps tenants report problems and get them fixed first time."
        ),
        capacity=4,
        load=2,
    ),
    Candidate(
        sponsor_id=BENEFITS,
        name="Aisha Siddiqui",
        department="Benefits",
        themes="Benefits, Council tax",
        interests=(
            "I run the revenues and benefits service. I care about people getting the support they are "
            "entitled to without a fight: housing benefit and council tax reduction claims, backlogs of "
            "evidence, overpayments, and helping residents who fall behind with council tax before it goes "
            "to enforcement. Free school meal take-up is another of mine."
        ),
        capacity=3,
        load=0,
    ),
    Candidate(
        sponsor_id=TRANSPORT,
        name="Tom Hughes",
        department="Transport",
        themes="Transport, Roads",
        interests=(
            "Highways and transport. Potholes and road defects, the state of pavements, bus services in rural "
            "areas, parking enforcement, safer routes for cycling and walking, and roadworks that overrun. "
            "I like ideas that make better use of what the public report to us."
        ),
        capacity=2,
        load=1,
    ),
    Candidate(
        sponsor_id=JUSTICE,
        name="Grace Adeyemi",
        department="Justice",
        themes="Justice, Community safety",
        interests=(
            "Youth justice and community safety. Reducing reoffending, support for people leaving prison, "
            "victims and witnesses getting through court, anti-social behaviour on estates, and making sure "
            "young people at risk of exploitation are picked up early."
        ),
        capacity=3,
        load=1,
    ),
    Candidate(
        sponsor_id=ENVIRONMENT,
        name="Owen Price",
        department="Environment",
        themes="Environment, Waste",
        interests=(
            "Waste and street scene. Household bin collections and missed bins, recycling rates and "
            "contamination, fly-tipping, litter, and the fleet of collection vehicles. Also parks and green "
            "spaces, and getting the council to net zero."
        ),
        capacity=3,
        load=2,
    ),
    Candidate(
        sponsor_id=EDUCATION,
        name="Sarah Lindqvist",
        department="Education",
        themes="Education, Children",
        interests=(
            "Schools and early years. Attendance and exclusions, support for children with special "
            "educational needs, school admissions and transport to school, and getting families to take up "
            "the funded childcare places they are entitled to."
        ),
        capacity=3,
        load=0,
    ),
    Candidate(
        sponsor_id=DIGITAL,
        name="Daniel Cho",
        department="Digital",
        themes="Digital, Back office",
        interests=(
            "Digital and corporate services. Replacing paper forms and manual re-keying with online services, "
            "fixing the systems staff fight with every day, better use of data, invoices and purchasing, "
            "recruitment and onboarding, and the contact centre's phone queues."
        ),
        capacity=4,
        load=1,
    ),
]


@dataclass(frozen=True)
class Case:
    idea: IdeaText
    expected: int  # the sponsor_id a person would pick


def case(title: str, problem: str, idea: str, theme: str | None, department: str | None, expected: int) -> Case:
    return Case(IdeaText(title=title, problem=problem, idea=idea, theme=theme, department=department), expected)


DEVELOPMENT = [
    # Health
    case(
        "Text people the day before their outpatient slot",
        "A lot of people simply forget and don't turn up, so the consultant sits idle and others wait longer.",
        "Send an automated SMS reminder 24 hours ahead with a link to cancel or rebook.",
        "Health",
        "Health",
        HEALTH,
    ),
    case(
        "Doctors' receptionists could book hospital tests directly",
        "Patients go back and forth between the practice and the hospital to arrange blood tests and scans, "
        "and the paperwork gets lost on the way.",
        "Give reception staff at the surgery access to the hospital's booking system for tests.",
        None,
        "Health",
        HEALTH,
    ),
    case(
        "Pharmacy deliveries for people who can't get out",
        "Older residents who are stuck at home run out of their tablets because nobody can collect their "
        "prescriptions.",
        "Volunteer drivers collect repeat prescriptions from the chemist and deliver them once a week.",
        "Social care",
        "Housing",
        HEALTH,
    ),
    case(
        "A break for family members looking after relatives",
        "People caring for a parent or partner around the clock burn out and end up in A&E themselves.",
        "A sitting service so that they get an afternoon off each week.",
        None,
        "Benefits",
        HEALTH,
    ),
    case(
        "Get medically fit patients home sooner",
        "Beds are blocked by people who are ready to leave but are waiting for a care package to start.",
        "A discharge coordinator on each ward who books home care before the day they go home.",
        "health",
        "Health",
        HEALTH,
    ),
    # Housing
    case(
        "Photo reporting for leaks and broken boilers",
        "Tenants ring up to report a repair and the operative often turns up without the right part.",
        "Let tenants send a photo with the request so that the right trade and parts come first time.",
        "Housing",
        "Housing",
        HOUSING,
    ),
    case(
        "Dehumidifiers for flats with black mould",
        "Condensation in the older blocks causes black mould on the walls and the children get chest infections.",
        "Lend dehumidifiers and give ventilation advice at the first report.",
        None,
        "Health",
        HOUSING,
    ),
    case(
        "Turn round empty council flats faster",
        "Properties sit vacant for weeks between lettings while families are stuck in bed and breakfast.",
        "Start the clearance and safety checks while the outgoing tenant is still working their notice.",
        "Housing",
        "Housing",
        HOUSING,
    ),
    case(
        "A bed for the night without a long assessment",
        "People sleeping on the streets are turned away at night because the assessment can only be done in "
        "office hours.",
        "Keep two emergency beds free for out of hours and do the assessment the next morning.",
        "Homelessness",
        "Justice",
        HOUSING,
    ),
    case(
        "Ring tenants before their rent account slips too far",
        "Arrears build up for months before anyone talks to the tenant, and by then it is an eviction notice.",
        "Call tenants after the second missed rent payment and offer a repayment plan.",
        None,
        "Housing",
        HOUSING,
    ),
    # Benefits
    case(
        "Pre-filled forms for the single person discount",
        "People living alone have to fill in a long form to get 25% off their bill even though we already "
        "know they live alone.",
        "Send them a form filled in from the electoral register that they only have to sign.",
        "Council tax",
        "Benefits",
        BENEFITS,
    ),
    case(
        "New UC claimants miss out on help with their rent",
        "People moving onto Universal Credit don't realise they have to ask for the housing costs "
        "separately, and fall behind.",
        "A one-page checklist handed out at the Jobcentre and at our front desk.",
        None,
        "Housing",
        BENEFITS,
    ),
    case(
        "Stop asking for the same payslips twice",
        "Claimants send proof of income and it gets lost between teams, so they are asked again and their "
        "award is delayed.",
        "One evidence store shared by the benefits and council tax teams.",
        "Benefits",
        "Benefits",
        BENEFITS,
    ),
    case(
        "A phone call before the bailiffs",
        "Residents who owe council tax only find out how serious it is when enforcement agents are at the door.",
        "Phone them and offer a payment plan before the debt is passed on for enforcement.",
        None,
        "Justice",
        BENEFITS,
    ),
    case(
        "Sign children up for free meals automatically",
        "Many children who could have free lunches at school don't get them because their parents never apply.",
        "Use the housing benefit and council tax reduction records we already hold to enrol them.",
        "Education",
        "Education",
        BENEFITS,
    ),
    # Transport
    case(
        "Report a pothole with a pin on a map",
        "People phone in about holes in the road but can't say exactly where, so the crews waste time looking.",
        "A map on the website where residents drop a pin and add a photo.",
        "Roads",
        "Transport",
        TRANSPORT,
    ),
    case(
        "Dial-a-ride for villages with no evening bus",
        "Staff in outlying villages can't get to evening shifts or visiting hours because the last bus leaves at six.",
        "A bookable minibus that runs on demand after the timetabled services stop.",
        "Transport",
        "Health",
        TRANSPORT,
    ),
    case(
        "Charge utility companies for overrunning street works",
        "Streets are dug up for weeks longer than agreed and traffic backs up through the town centre.",
        "Daily charges for works that run past the end of their permit.",
        None,
        "Transport",
        TRANSPORT,
    ),
    case(
        "Safer walk to the primary school",
        "Parents drive children 500 metres because the crossing on the main road is dangerous.",
        "A zebra crossing, and closing the street to cars at drop-off and pick-up times.",
        "Roads",
        "Education",
        TRANSPORT,
    ),
    case(
        "Camera car for parking on the zig-zags",
        "Drivers stop on the yellow lines outside schools and the wardens can't be everywhere.",
        "A camera car that issues penalty notices by post.",
        None,
        "Transport",
        TRANSPORT,
    ),
    # Justice
    case(
        "Mentors for lads coming out of young offender institutions",
        "Most of them are back inside within a year because nobody meets them at the gate.",
        "Pair each young person leaving custody with a mentor who has been through it.",
        None,
        "Justice",
        JUSTICE,
    ),
    case(
        "A quiet room for witnesses at the magistrates'",
        "Witnesses wait in the same corridor as the defendant's family, and some give up and go home.",
        "Set aside a separate waiting room and a volunteer to walk them through the day.",
        "Justice",
        "Justice",
        JUSTICE,
    ),
    case(
        "Joint patrols on the estate after dark",
        "Groups of youths hang around the shops intimidating residents, and every complaint goes to a different team.",
        "Housing officers and police community support officers walk the estate together two evenings a week.",
        "Community safety",
        "Housing",
        JUSTICE,
    ),
    case(
        "Spot the kids being drawn into gangs",
        "Children groomed to carry drugs are only noticed once they are arrested.",
        "Schools, youth workers and the police share concerns at one fortnightly meeting.",
        None,
        "Education",
        JUSTICE,
    ),
    # Environment
    case(
        "Tell residents when their rubbish won't be picked up",
        "When a crew can't get down a street, nobody tells the residents and we get hundreds of calls.",
        "Text or email the households affected the same day with the new collection date.",
        "Waste",
        "Environment",
        ENVIRONMENT,
    ),
    case(
        "Cameras at dumping hotspots",
        "The same lay-bys get piles of mattresses and builders' rubble dumped every week.",
        "Movable cameras at the worst spots, and publicising the fines handed out.",
        None,
        "Environment",
        ENVIRONMENT,
    ),
    case(
        "Teach children what goes in which bin",
        "Loads of recycling are rejected at the plant because people put food and nappies in with it.",
        "Visits to primary schools with a sorting game, so that children teach their parents.",
        "Environment",
        "Education",
        ENVIRONMENT,
    ),
    case(
        "Electric vans for the council fleet",
        "Our diesel vans idle outside homes all day, and we have a carbon target to meet.",
        "Replace vans with electric ones as their leases end, with chargers at the depot.",
        "Climate",
        "Housing",
        ENVIRONMENT,
    ),
    case(
        "Let community groups adopt their local park",
        "The grounds budget has been cut and grass and flower beds are neglected.",
        "Friends groups get tools and insurance to look after their local green space.",
        None,
        "Environment",
        ENVIRONMENT,
    ),
    # Education
    case(
        "Morning call for pupils who miss school",
        "Persistent absence has doubled since the pandemic, and families only hear from us when a fine is issued.",
        "An attendance officer rings the family on the first morning a child is absent.",
        "Education",
        "Education",
        EDUCATION,
    ),
    case(
        "Quicker EHCP assessments",
        "Families wait over a year for an education, health and care plan, and children go without support in class.",
        "One coordinator gathers the reports from the educational psychologist, the therapists and the "
        "school at the same time.",
        None,
        "Health",
        EDUCATION,
    ),
    case(
        "Nursery places for two-year-olds",
        "Many families who qualify for free childcare for their two-year-old never take it up.",
        "Health visitors hand over a voucher at the two-year check.",
        "Children",
        "Health",
        EDUCATION,
    ),
    case(
        "One admissions form for brothers and sisters",
        "Parents with children starting at different schools fill in the same details several times.",
        "A single application covering all the children in a family.",
        None,
        "Education",
        EDUCATION,
    ),
    # Digital
    case(
        "Stop retyping web forms into the back office system",
        "Every online request is printed and typed into the case system by hand, which takes hours and "
        "introduces errors.",
        "Connect the web forms directly to the case management system.",
        "Digital",
        "Transport",
        DIGITAL,
    ),
    case(
        "Pay small suppliers on time",
        "Bills sit in managers' inboxes waiting for sign-off, and small local firms wait months to be paid.",
        "Automatic approval reminders and a dashboard of everything overdue.",
        None,
        "Environment",
        DIGITAL,
    ),
    case(
        "New starters without a laptop on day one",
        "New staff spend their first week without equipment or logins.",
        "Order the equipment and accounts automatically as soon as the job offer is accepted.",
        "Back office",
        "Benefits",
        DIGITAL,
    ),
    case(
        "Call back instead of holding",
        "Residents wait forty minutes on hold when they ring us.",
        "Offer to call them back when the wait is longer than ten minutes.",
        None,
        "Digital",
        DIGITAL,
    ),
    case(
        "One login for everything the council does online",
        "Residents have separate accounts for bins, council tax and parking, and forget which password goes "
        "with which.",
        "A single sign-in across all the council's web services.",
        "Digital",
        "Digital",
        DIGITAL,
    ),
]

HELD_OUT = [
    # Health
    case(
        "Blood test results by text instead of a call back",
        "Patients ring the practice every morning to ask if their bloods are back, jamming the lines for "
        "people who are ill.",
        "Send results that need no action straight to the patient's mobile, and only ring those who need to be seen.",
        None,
        "Health",
        HEALTH,
    ),
    case(
        "Respite beds closer to home",
        "Families looking after someone with dementia have to travel 40 miles for a week of respite.",
        "Use two empty rooms in our own sheltered schemes for short respite stays.",
        "Social care",
        "Housing",
        HEALTH,
    ),
    case(
        "Physio exercises on video while people wait",
        "The wait for physiotherapy is 18 weeks and people's backs get worse in the meantime.",
        "Short exercise videos sent on referral so that patients can start straight away.",
        "Health",
        "Digital",
        HEALTH,
    ),
    # Housing
    case(
        "Sofa surfers are invisible until they hit the street",
        "Young people staying on friends' sofas don't count as homeless until they are actually sleeping outside.",
        "A drop-in at the college where they can get housing advice before it comes to that.",
        None,
        "Education",
        HOUSING,
    ),
    case(
        "Book the gas safety check when it suits the tenant",
        "A third of annual gas checks fail at the first visit because nobody is in.",
        "Let residents choose the slot online and send a reminder the day before.",
        "Housing",
        "Digital",
        HOUSING,
    ),
    case(
        "Stop mould coming back after we paint over it",
        "We treat the walls, the mould returns within months and the family complains again.",
        "Fit extractor fans and check the insulation at the first visit instead of just repainting.",
        "Housing",
        "Housing",
        HOUSING,
    ),
    # Benefits
    case(
        "Backdate claims when the delay is ours",
        "When we lose a form, the person's housing benefit starts weeks late and they get into rent arrears "
        "through no fault of their own.",
        "Backdate the award to the date the first contact was logged, without them having to ask.",
        "Benefits",
        "Benefits",
        BENEFITS,
    ),
    case(
        "A benefits check at the food bank",
        "Most people who come to the food bank are not claiming everything they could.",
        "A welfare rights adviser at the food bank once a week to do a full entitlement check.",
        None,
        "Health",
        BENEFITS,
    ),
    case(
        "Let people spread their council tax over twelve months",
        "Bills are split over ten months, so April and May come as a shock to families on low incomes.",
        "Offer twelve instalments by default on the annual bill.",
        "Council tax",
        "Digital",
        BENEFITS,
    ),
    # Transport
    case(
        "Grit the routes to the GP surgeries first",
        "When it is icy, elderly patients can't get to their appointments because the side roads are not treated.",
        "Add the roads leading to surgeries and pharmacies to the priority gritting routes.",
        None,
        "Health",
        TRANSPORT,
    ),
    case(
        "Live bus arrival screens at rural stops",
        "People stand in the rain not knowing whether the bus has already gone.",
        "Solar-powered screens showing live arrival times at the busiest rural stops.",
        "Transport",
        "Transport",
        TRANSPORT,
    ),
    case(
        "Dropped kerbs where wheelchair users need them",
        "Wheelchair users have to go out into the road because there is no dropped kerb at the junction.",
        "Ask disability groups to map the worst junctions and fix those first.",
        None,
        "Benefits",
        TRANSPORT,
    ),
    # Justice
    case(
        "Restorative meetings for first-time shoplifters",
        "Young people caught shoplifting for the first time get a caution and nothing changes.",
        "Offer a meeting with the shop owner and a volunteer facilitator instead of going to court.",
        "Justice",
        "Justice",
        JUSTICE,
    ),
    case(
        "Help people on probation open a bank account",
        "People released from prison can't get paid or rent a room without a bank account and ID.",
        "A release pack with ID and a basic bank account set up before they leave.",
        None,
        "Benefits",
        JUSTICE,
    ),
    case(
        "Better lighting on the path behind the shops",
        "Residents feel unsafe walking home and there have been several muggings on the unlit path.",
        "Put in motion-sensor lights and cut back the hedges.",
        "Community safety",
        "Environment",
        JUSTICE,
    ),
    # Environment
    case(
        "Bigger bins for large families",
        "Households of six or more overflow their bin every fortnight and bags end up on the pavement.",
        "Offer a larger wheelie bin on request, checked against the number of people living there.",
        None,
        "Housing",
        ENVIRONMENT,
    ),
    case(
        "Plant trees on streets with no shade",
        "Some estates have no trees at all and get very hot in summer.",
        "A street tree programme where residents choose the spot and water the tree for its first year.",
        "Climate",
        "Housing",
        ENVIRONMENT,
    ),
    case(
        "Collect old furniture for reuse instead of landfill",
        "Bulky items collected from homes are crushed even when they are in good condition.",
        "Partner with a furniture charity to pass usable items on to families setting up home.",
        "Waste",
        "Environment",
        ENVIRONMENT,
    ),
    # Education
    case(
        "Homework club for children living in hostels",
        "Children living in one room in a hostel have nowhere to do homework and fall behind at school.",
        "An after-school homework club in the library with a quiet space and laptops.",
        "Education",
        "Housing",
        EDUCATION,
    ),
    case(
        "Teaching assistants trained in autism",
        "Children with autism are excluded more often because staff don't know how to calm things down.",
        "A short course for every teaching assistant in the county's primaries.",
        None,
        "Education",
        EDUCATION,
    ),
    # Digital
    case(
        "Scan the post when it arrives",
        "Letters to the council sit in the mailroom for days before reaching the right team.",
        "Scan all incoming post and route it to the team inboxes the same morning.",
        "Back office",
        "Benefits",
        DIGITAL,
    ),
    case(
        "Replace the paper timesheets",
        "Care workers and crews fill in paper timesheets that are typed up for payroll every week.",
        "A simple app to clock in and out that feeds payroll directly.",
        None,
        "Environment",
        DIGITAL,
    ),
    case(
        "Stop asking residents for the same details on every form",
        "Residents type their name and address again for every request, and mistakes creep in.",
        "Remember their details in their account and fill them in for them.",
        "Digital",
        "Housing",
        DIGITAL,
    ),
]

FRESH = [
    case(
        "Same-day slots for children with a fever",
        "Parents take feverish toddlers to A&E because they can't be seen by the family doctor the same day.",
        "Hold back a few same-day slots at each practice for the under-fives.",
        None,
        "Education",
        HEALTH,
    ),
    case(
        "Medicines ready before the day of discharge",
        "Patients who are ready to go home wait six hours on the ward for their medicines to be dispensed.",
        "Write the discharge prescription the evening before.",
        "Health",
        "Health",
        HEALTH,
    ),
    case(
        "Keys back faster from outgoing tenants",
        "Flats stand empty for a fortnight because nobody collects the keys when a tenancy ends.",
        "A key safe at each block so that keys can be handed back at any hour.",
        None,
        "Housing",
        HOUSING,
    ),
    case(
        "Get private landlords to take families from B&B",
        "Families spend months in bed and breakfast because private landlords won't let to them.",
        "A deposit guarantee and a month's rent in advance, paid by the council.",
        "Homelessness",
        "Benefits",
        HOUSING,
    ),
    case(
        "Tell widows about the single person discount",
        "People whose partner has died often pay their full council tax for months because nobody tells them "
        "they can pay less.",
        "The registrar hands over a leaflet and, with consent, passes the details on to us.",
        "Council tax",
        "Other",
        BENEFITS,
    ),
    case(
        "Clear the pile of unread evidence",
        "Over 3,000 documents sent in with benefit claims are waiting to be indexed, and the decisions wait with them.",
        "Index the post by barcode on the day it arrives.",
        None,
        "Benefits",
        BENEFITS,
    ),
    case(
        "Tell drivers about closures before they set off",
        "Motorists find roads closed for resurfacing with no warning and clog up the diversions.",
        "Publish planned closures as open data so that sat-nav apps pick them up.",
        "Roads",
        "Digital",
        TRANSPORT,
    ),
    case(
        "Somewhere safe to leave a bike at the station",
        "Commuters would cycle to the station but there is nowhere safe to leave a bike all day.",
        "Covered, lockable racks at the three busiest stations.",
        None,
        "Environment",
        TRANSPORT,
    ),
    case(
        "Video links so victims needn't face the accused",
        "Victims of assault withdraw their statements because they dread being in court with the person who hurt them.",
        "Let them give evidence by video link from a room at the council offices.",
        "Justice",
        "Digital",
        JUSTICE,
    ),
    case(
        "Youth club open on Friday nights",
        "Complaints about teenagers causing trouble in the park peak on Friday nights, when nothing is open.",
        "Keep the youth club open until eleven on Fridays, with detached youth workers out and about.",
        "Community safety",
        "Environment",
        JUSTICE,
    ),
    case(
        "Food caddies for flats",
        "Flats have no food waste collection, so it all goes in with the general rubbish.",
        "Communal food waste bins at each block, emptied weekly.",
        None,
        "Housing",
        ENVIRONMENT,
    ),
    case(
        "Follow up pupils who move school mid-year",
        "Children who change school in the middle of the year fall through the gaps, and some never turn up "
        "at the new one.",
        "Check that every child taken off a school roll has started at another within ten days.",
        "Education",
        "Education",
        EDUCATION,
    ),
    case(
        "Speech and language help in nurseries",
        "Many toddlers start reception unable to speak in sentences, and it holds them back right through school.",
        "Train nursery staff to spot speech delay and run small group sessions.",
        "Children",
        "Health",
        EDUCATION,
    ),
    case(
        "Fix the password resets",
        "A third of calls to the IT helpdesk are password resets, and staff lose half a morning waiting.",
        "Self-service password resets with a code sent to their work mobile.",
        "Back office",
        "Housing",
        DIGITAL,
    ),
    case(
        "Pay invoices without printing them",
        "Finance prints every invoice, gets it signed and scans it back in.",
        "Approve invoices in the finance system with an electronic sign-off.",
        None,
        "Environment",
        DIGITAL,
    ),
]

CASES = DEVELOPMENT + HELD_OUT + FRESH
