"""The story is told once, route by route: what a citizen typically writes in the first message answers
the common questions of every stroomschema route (`herken` + `uit_verhaal`), and nothing else does.

Each case is one realistic first message, typed the way a stressed citizen types it (typos, no capitals,
no full stops), and the question it should or should not answer. The engine is driven as it runs: the
citizen presses the answer before the question (or confirms the topic of an entry question), and the
bot either says "U schreef dat …" and goes on, or asks. Precision first: a negation, another person,
a question or a plan is never read as the answer; when two answers fit, the question is asked.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

import pytest

from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.routing import LIFE_EVENT_PREFIX, route
from bot.intake.schema import URGENCY_NODE, Schema, schema
from bot.intake.state import DONE, IN_TREE, IntakeState, Reply, Turn, choice_payload
from tests.bot.helpers import domain
from tests.bot.test_engine import button, pressed, said

MAX_TURN_CHARS = 900  # the phone-screen caps of tests/bot/test_story_once.py
MAX_TURN_BUBBLES = 6


@pytest.fixture(scope="module")
def intake() -> Intake:
    return Intake(knowledge(), schema())


@lru_cache(maxsize=1)
def ways_in() -> Dict[str, str]:
    """For every question node, one choice payload that leads to it: the answer before it, or the
    confirmed topic / life event of an entry question."""
    tree: Schema = schema()
    ways: Dict[str, str] = {}
    for topic, entry in sorted(tree.topic_entries.items()):
        ways.setdefault(entry, f"bevestig|{topic}")
    for event, entry in sorted(tree.event_entries.items()):
        ways.setdefault(entry, f"bevestig|{LIFE_EVENT_PREFIX}{event}")
    for node in tree.nodes.values():
        for i, option in enumerate(node.opties):
            ways.setdefault(option.naar, f"knoop|{node.id}|{i}")
    return ways


def reach(intake: Intake, node_id: str, story: str) -> Turn:
    """The citizen told `story` and now gets to `node_id`: what the bot does there."""
    routing = route(said(story, "nlu_fallback", 0.2).parse, intake.kb)
    state = IntakeState(
        verhaal=(story,), signalen=routing.signals, urgent=routing.urgent, urgentie_gevraagd=True
    )
    way = ways_in()[node_id]
    if way.startswith("knoop|"):
        parent = way.split("|")[1]
        state = replace(state, intake_fase=IN_TREE, intake_knoop=parent)
    return intake.handle(state, pressed(choice_payload(way)))


def taken(turn: Turn, node_id: str) -> Optional[str]:
    """The label the bot took from the story at `node_id`, or None when it asked (or went elsewhere)."""
    if node_id not in turn.state.uit_verhaal:
        return None
    told = [a for a in turn.state.antwoorden if a.endswith(" (uit het verhaal)")]
    answer = told[turn.state.uit_verhaal.index(node_id)]
    vraag = schema().nodes[node_id].vraag
    assert answer.startswith(f"{vraag} → "), answer
    return answer[len(f"{vraag} → ") : -len(" (uit het verhaal)")]


def texts(turn: Turn) -> List[str]:
    """The lines the citizen reads (what the bot took from the story is one bubble of several lines)."""
    return [line for r in turn.replies if r.text for line in r.text.split("\n")]


def gives(node: str, story: str, label: str) -> Any:
    """The story answers the question at `node` with `label`."""
    return pytest.param(node, story, label, True, id=f"{node}={label}: {story}")


def not_(node: str, story: str, label: str) -> Any:
    """The story must not answer the question at `node` with `label` (it is asked, or answered otherwise)."""
    return pytest.param(node, story, label, False, id=f"{node}!={label}: {story}")


CASES = [
    # --- toeslagen ------------------------------------------------------------------------------
    gives("toeslagen.start", "ik moet 1200 euro zorgtoeslag terugbetalen", "Ik moet terugbetalen"),
    gives(
        "toeslagen.start", "belastingdienst wil 3000 euro huurtoeslag terug van mij!!", "Ik moet terugbetalen"
    ),
    gives("toeslagen.start", "brief gehad dat ik te veel toeslag heb gekregen", "Ik moet terugbetalen"),
    gives("toeslagen.start", "hoe vraag ik huurtoeslag aan ik heb net een huis", "Toeslag aanvragen"),
    gives("toeslagen.start", "we gaan samenwonen wat moet ik met mijn toeslag", "Iets veranderen"),
    not_("toeslagen.start", "moet ik dan mijn toeslag terugbetalen?", "Ik moet terugbetalen"),
    not_(
        "toeslagen.start",
        "ik hoef gelukkig niks terug te betalen maar wil het doorgeven",
        "Ik moet terugbetalen",
    ),
    not_("toeslagen.start", "ik heb huurtoeslag aangevraagd maar nog niks gehoord", "Toeslag aanvragen"),
    gives("toeslagen.welke", "ik wil zorgtoeslag aanvragen want ik ben 18 geworden", "Zorgtoeslag"),
    gives("toeslagen.welke", "kan ik huursubsidie krijgen", "Huurtoeslag"),
    gives("toeslagen.welke", "mijn dochter gaat naar de bso, hoe zit dat met toeslag", "Kinderopvang"),
    not_("toeslagen.welke", "ik krijg al zorgtoeslag maar wil nu ook huurtoeslag", "Zorgtoeslag"),
    gives("toeslagen.welke", "ik krijg al zorgtoeslag maar wil nu ook huurtoeslag", "Huurtoeslag"),
    not_("toeslagen.welke", "zorgtoeslag en huurtoeslag allebei aanvragen", "Zorgtoeslag"),
    gives("toeslagen.wijziging", "ik heb een nieuwe baan en verdien nu meer", "Mijn inkomen"),
    gives("toeslagen.wijziging", "mijn vriend komt bij mij wonen", "Wie bij mij woont"),
    gives("toeslagen.wijziging", "we gaan volgende maand verhuizen naar rotterdam", "Ik ga verhuizen"),
    gives(
        "toeslagen.wijziging",
        "mijn man is vorige week overleden wat moet ik met de toeslag",
        "Iemand is overleden",
    ),
    not_(
        "toeslagen.wijziging", "we gaan niet samenwonen hoor, hij blijft bij zijn ouders", "Wie bij mij woont"
    ),
    not_("toeslagen.wijziging", "ik ga niet verhuizen maar mijn huur gaat omhoog", "Ik ga verhuizen"),
    gives("toeslagen.partner", "me vriendin en ik gaan samenwonen", "Iemand komt erbij"),
    gives("toeslagen.partner", "mijn vrouw en ik gaan uit elkaar", "We gaan uit elkaar"),
    gives("toeslagen.partner", "mijn man is opgenomen in het verpleeghuis", "Partner in zorghuis"),
    gives("toeslagen.partner", "ik woon nu tijdelijk bij mijn moeder", "Ik woon bij familie"),
    not_("toeslagen.partner", "we gaan niet uit elkaar hoor", "We gaan uit elkaar"),
    not_("toeslagen.partner", "mijn moeder zit in het verpleeghuis", "Partner in zorghuis"),
    gives("toeslagen.recht.start", "heb ik recht op zorgtoeslag, ik verdien weinig", "Zorgverzekering"),
    gives("toeslagen.recht.start", "ik kan de huur bijna niet betalen, krijg ik toeslag?", "Huur"),
    not_("toeslagen.recht.start", "de huur is hoog en de zorgverzekering ook, wat kan ik krijgen", "Huur"),
    gives("toeslagen.kgb.start", "heb ik recht op kindgebonden budget", "Krijg ik het?"),
    gives("toeslagen.kgb.start", "het bedrag van mijn kindgebonden budget klopt niet", "Bedrag klopt niet"),
    gives("toeslagen.kgb.start", "ik moet kindgebonden budget terugbetalen", "Ik moet terugbetalen"),
    not_("toeslagen.kgb.start", "klopt het dat ik het krijg?", "Bedrag klopt niet"),
    gives(
        "toeslagen.terug.start", "ik moet 2000 euro terugbetalen maar dat klopt echt niet", "Nee, klopt niet"
    ),
    gives("toeslagen.terug.start", "ik snap niet waarom ik zorgtoeslag moet terugbetalen", "Weet ik niet"),
    gives(
        "toeslagen.terug.start",
        "ik ben gedupeerd door de toeslagenaffaire en nu weer een brief",
        "Toeslagenaffaire",
    ),
    gives(
        "toeslagen.terug.start",
        "het klopt wel hoor, mijn eigen fout, maar hoe betaal ik het",
        "Ja, het klopt",
    ),
    not_("toeslagen.terug.start", "ik weet niet of het klopt", "Nee, klopt niet"),
    not_("toeslagen.terug.start", "ik weet niet of het klopt", "Ja, het klopt"),
    gives("toeslagen.terug.betalen", "ik kan het niet in 1 keer betalen", "Nee"),
    gives("toeslagen.terug.betalen", "kan ik dat in termijnen terugbetalen", "Nee"),
    gives("toeslagen.terug.betalen", "ik kan het wel betalen maar ik wil weten waarom", "Ja"),
    not_("toeslagen.terug.betalen", "ik kan het niet in een keer betalen", "Ja"),
    gives(
        "toeslagen.terug.schulden",
        "moet toeslag terugbetalen en heb ook nog schulden bij de zorgverzekering",
        "Ja",
    ),
    gives("toeslagen.terug.schulden", "verder heb ik geen schulden", "Nee"),
    not_("toeslagen.terug.schulden", "ik heb geen andere schulden", "Ja"),
    not_("toeslagen.terug.schulden", "ik heb nog geen schulden maar straks wel", "Ja"),
    gives("toeslagen.welke", "hoe vraag ik kindgebonden budget aan", "Kindgebonden budget"),
    gives(
        "toeslagen.recht.start",
        "mijn zoontje gaat naar het kinderdagverblijf, krijg ik toeslag",
        "Kinderopvang",
    ),
    gives("toeslagen.recht.start", "krijg ik geld voor mijn kinderen, ik ben alleen", "Mijn kinderen"),
    # --- uwv ------------------------------------------------------------------------------------
    gives("uwv.ww.start", "mijn contract is niet verlengd, hoe vraag ik ww aan", "Nee, nog niet"),
    gives("uwv.ww.start", "ik heb nog geen ww aangevraagd, moet dat snel?", "Nee, nog niet"),
    gives("uwv.ww.start", "ik wacht al 5 weken op mijn ww en heb niks", "Ja, ik wacht nog"),
    gives("uwv.ww.start", "mijn ww is afgewezen en ik snap niet waarom", "Ja, ik heb besluit"),
    not_("uwv.ww.start", "ik heb ww aangevraagd", "Nee, nog niet"),
    gives("uwv.ww.reden", "ik ben ontslagen na 12 jaar", "Ik ben ontslagen"),
    gives("uwv.ww.reden", "mijn baas is failliet wat nu", "Ik ben ontslagen"),
    gives("uwv.ww.reden", "mijn contract loopt af eind deze maand", "Contract stopt"),
    gives("uwv.ww.reden", "ik heb zelf ontslag genomen, krijg ik dan ww?", "Ik zeg zelf op"),
    gives("uwv.ww.reden", "ze hebben mijn uren verminderd naar 16", "Minder uren"),
    not_("uwv.ww.reden", "ik ben niet ontslagen maar mijn contract stopt", "Ik ben ontslagen"),
    gives("uwv.ww.reden", "ik ben niet ontslagen maar mijn contract stopt", "Contract stopt"),
    not_("uwv.ww.reden", "ik heb niet zelf opgezegd ik ben ontslagen", "Ik zeg zelf op"),
    gives("uwv.ww.besluit", "ik krijg geen ww volgens de brief van uwv", "Ik krijg geen WW"),
    gives("uwv.ww.besluit", "mijn ww is toegekend maar het bedrag is laag", "Ik krijg WW"),
    not_("uwv.ww.besluit", "krijg ik ww?", "Ik krijg WW"),
    gives("uwv.digitaal.start", "ik heb geen digid en moet ww aanvragen", "Nee"),
    gives("uwv.digitaal.start", "ik heb wel digid maar snap het formulier niet", "Ja"),
    not_("uwv.digitaal.start", "ik heb wel digid maar hij werkt niet", "Ja"),
    gives("uwv.wachten.start", "ik wacht op ww en heb geen cent meer om van te leven", "Nee, helemaal niet"),
    gives("uwv.wachten.start", "ik wacht op mijn ww, ik heb nog wat spaargeld", "Ja, nog even"),
    not_("uwv.wachten.start", "ik heb geen spaargeld", "Ja, nog even"),
    not_("uwv.wachten.start", "ik moet nog geld krijgen van het uwv", "Ja, nog even"),
    gives("uwv.wachten.lasten", "de huur van vorige maand is nog niet betaald", "Nee, ik loop achter"),
    not_("uwv.wachten.lasten", "ik loop nog niet achter maar bijna", "Nee, ik loop achter"),
    gives("uwv.toeslag.start", "ik zit in de wia en het is te weinig", "Ja"),
    gives("uwv.toeslag.start", "ik heb geen uitkering, krijg ik die toeslag?", "Nee"),
    gives("uwv.toeslag.start", "ik wil zorgtoeslag aanvragen", "Ik wil zorgtoeslag"),
    not_("uwv.toeslag.start", "ik krijg geen ww meer", "Ja"),
    gives("uwv.terug.start", "uwv wil 800 euro terug maar ik kan dat niet betalen", "Nee, dat lukt niet"),
    gives("uwv.terug.start", "uwv wil geld terug maar dat is onterecht", "Het klopt niet"),
    gives("uwv.terug.start", "ze houden elke maand geld in op mijn uitkering", "Ze houden geld in"),
    gives("uwv.terug.start", "ik kan het wel betalen, hoe doe ik dat", "Ja, in een keer"),
    not_("uwv.terug.start", "ik kan het niet in een keer betalen", "Ja, in een keer"),
    gives("uwv.terug.andere", "ook nog schulden bij de belasting", "Ja, ook andere"),
    gives("uwv.terug.andere", "ik heb geen andere schulden", "Nee, alleen UWV"),
    gives("uwv.ziek.start", "ik ben ziek en mijn werkgever wil dat ik terugkom", "Ziek met baas"),
    gives("uwv.ziek.start", "ik ben ziek geworden en mijn contract is afgelopen", "Ziek zonder baas"),
    gives("uwv.ziek.start", "ik ben al bijna 2 jaar ziek, wat gebeurt er nu", "Bijna 2 jaar ziek"),
    gives("uwv.ziek.start", "ik heb een beperking van jongs af, kan ik wajong krijgen", "Ziek van jongs af"),
    gives("uwv.ziek.start", "mijn ziektewet uitkering is gestopt", "Geld van UWV stopt"),
    not_("uwv.ziek.start", "mijn zoon van 2 jaar is ziek", "Bijna 2 jaar ziek"),
    not_(
        "uwv.ziek.start", "mijn werkgever wil me ontslaan, maar mijn contract is afgelopen", "Ziek met baas"
    ),
    gives("uwv.ww.besluit", "ik snap niks van die brief van uwv", "Snap ik niet"),
    # --- gemeente -------------------------------------------------------------------------------
    gives("gemeente.bijstand.start", "ik heb geen inkomen meer en wil bijstand aanvragen", "Ik wil bijstand"),
    gives(
        "gemeente.bijstand.start",
        "ik zit in de bijstand en mijn vriend komt bij mij wonen",
        "Ik krijg bijstand",
    ),
    not_("gemeente.bijstand.start", "ik heb bijstand aangevraagd maar nog niks gehoord", "Ik krijg bijstand"),
    not_("gemeente.bijstand.start", "ik heb geen bijstand", "Ik krijg bijstand"),
    gives("gemeente.bijstand.leeftijd", "ik ben 45 en heb geen werk meer", "Nee"),
    gives("gemeente.bijstand.leeftijd", "ik ben 69 jaar en kom niet rond", "Ja"),
    gives("gemeente.bijstand.leeftijd", "ik krijg aow maar dat is te weinig", "Ja"),
    not_("gemeente.bijstand.leeftijd", "ik ben 20 weken zwanger en heb geen inkomen", "Nee"),
    not_("gemeente.bijstand.leeftijd", "ik ben 30 jaar getrouwd geweest en nu alleen", "Nee"),
    not_("gemeente.bijstand.leeftijd", "ik krijg geen aow", "Ja"),
    gives("gemeente.bijstand.wacht", "ik wacht nog op mijn ww van het uwv", "Ja, ik wacht op WW"),
    not_("gemeente.bijstand.wacht", "ik heb geen ww aangevraagd", "Ja, ik wacht op WW"),
    gives("gemeente.bijstand.schulden", "ik heb ook schulden en de deurwaarder belt steeds", "Ja"),
    gives("gemeente.bijstand.schulden", "ik heb geen schulden, alleen geen inkomen", "Nee"),
    not_("gemeente.bijstand.schulden", "ik wil niet in de schulden komen", "Ja"),
    gives("gemeente.bijstand.wijziging", "mijn zoon komt weer thuis wonen", "Iemand komt inwonen"),
    gives("gemeente.bijstand.wijziging", "ik ga weer werken vanaf maandag", "Ik krijg inkomen"),
    not_("gemeente.bijstand.wijziging", "mijn vriend gaat niet bij mij wonen", "Iemand komt inwonen"),
    not_("gemeente.bijstand.wijziging", "ik ga niet werken want ik ben ziek", "Ik krijg inkomen"),
    gives("gemeente.inkomen.start", "we komen elke maand niet rond", "Te weinig inkomen"),
    gives("gemeente.inkomen.start", "ik heb schulden bij iedereen", "Ik heb schulden"),
    gives("gemeente.inkomen.start", "ik ben mijn baan kwijt", "Inkomen valt weg"),
    gives(
        "gemeente.inkomen.start", "onverwachte rekening van 900 euro voor de tandarts", "Een hoge rekening"
    ),
    not_("gemeente.inkomen.start", "te weinig geld en ook schulden", "Te weinig inkomen"),
    gives("gemeente.inkomen.achterstand", "ik loop al 2 maanden achter met de huur", "Ja"),
    gives("gemeente.inkomen.achterstand", "ik betaal alles nog op tijd maar hou niks over", "Nee"),
    not_("gemeente.inkomen.achterstand", "ik heb geen achterstand", "Ja"),
    gives("gemeente.bijzonder.start", "ik kom elke maand geld tekort", "Ja, elke maand"),
    gives(
        "gemeente.bijzonder.start", "normaal red ik het maar nu is mijn wasmachine kapot", "Nee, alleen nu"
    ),
    not_("gemeente.bijzonder.start", "mijn wasmachine is kapot", "Nee, alleen nu"),
    gives("gemeente.bijzonder.kosten", "ik heb de bril al betaald", "Ja, al betaald"),
    gives("gemeente.bijzonder.kosten", "ik moet een nieuwe koelkast kopen", "Nee, nog niet"),
    not_("gemeente.bijzonder.kosten", "ik heb de rekening nog niet betaald", "Ja, al betaald"),
    gives("gemeente.energie.start", "hoe kan ik energietoeslag aanvragen", "Ik wil het aanvragen"),
    gives("gemeente.energie.start", "ik kan de energierekening niet betalen", "Ik kan niet betalen"),
    not_(
        "gemeente.energie.start",
        "kan ik energietoeslag aanvragen want ik kan de rekening niet betalen",
        "Ik wil het aanvragen",
    ),
    gives("gemeente.energie.achterstand", "ik heb een energieachterstand van 3 maanden", "Ja"),
    not_("gemeente.energie.achterstand", "geen achterstand bij eneco", "Ja"),
    gives("gemeente.kwijtschelding.start", "ik kan de afvalstoffenheffing niet betalen", "Gemeentebelasting"),
    gives("gemeente.kwijtschelding.start", "aanslag van het waterschap is te hoog", "Waterschap"),
    gives("gemeente.kwijtschelding.start", "ik kan de inkomstenbelasting niet betalen", "Belastingdienst"),
    not_(
        "gemeente.kwijtschelding.start",
        "de gemeentebelasting en het waterschap samen zijn te veel",
        "Waterschap",
    ),
    gives("gemeente.briefadres.start", "ik slaap nu bij een vriend op de bank", "Ja, bij iemand"),
    gives(
        "gemeente.briefadres.start",
        "ik zit in de nachtopvang en heb een adres nodig voor post",
        "Ja, in de opvang",
    ),
    gives("gemeente.briefadres.start", "ik slaap al een week in mijn auto", "Nee"),
    not_("gemeente.briefadres.start", "ik mag niet meer bij mijn zus slapen", "Ja, bij iemand"),
    gives("gemeente.huisvesting.start", "ik zoek een goedkoper huis", "Ik zoek een huis"),
    gives("gemeente.huisvesting.start", "de huur is veel te hoog voor mij", "Huur is te hoog"),
    not_("gemeente.huisvesting.start", "de huur is niet te hoog maar ik moet eruit", "Huur is te hoog"),
    gives("gemeente.huisvesting.huur", "ik heb 3 maanden de huur niet betaald", "Ja"),
    gives("gemeente.huisvesting.huur", "ik heb geen huurachterstand maar moet toch weg", "Nee"),
    not_("gemeente.huisvesting.huur", "ik heb geen huurachterstand maar moet toch weg", "Ja"),
    gives(
        "gemeente.schuldhulp.start",
        "schulden bij de belastingdienst en het cjib en de zorgverzekering",
        "Meer dan één",
    ),
    gives("gemeente.schuldhulp.start", "ik heb alleen een schuld bij de verhuurder", "Eén organisatie"),
    gives("gemeente.schuldhulp.start", "ik maak mijn post niet meer open", "Weet ik niet"),
    not_(
        "gemeente.schuldhulp.start",
        "ik heb schulden bij de belastingdienst en ik weet niet wat te doen",
        "Meer dan één",
    ),
    not_(
        "gemeente.schuldhulp.start",
        "ik heb schulden maar bij de gemeente wilden ze niet helpen",
        "Eén organisatie",
    ),
    gives("gemeente.schuldhulp.wie", "mijn grootste schuld is bij de belastingdienst", "Belastingdienst"),
    gives("gemeente.schuldhulp.wie", "ik heb een stapel boetes", "CJIB (boetes)"),
    not_("gemeente.schuldhulp.wie", "schulden bij het cjib en de belastingdienst", "CJIB (boetes)"),
    gives("gemeente.wmo.start", "ik wil hulp aanvragen voor mijn moeder", "Voor iemand anders"),
    gives("gemeente.wmo.start", "ik kan niet meer goed traplopen en wil een traplift", "Voor mijzelf"),
    not_(
        "gemeente.wmo.start",
        "ik zorg voor mijn moeder en ik heb hulp nodig in het huishouden",
        "Voor mijzelf",
    ),
    gives("gemeente.wmo.wat", "ik heb hulp nodig bij het schoonmaken", "Hulp in huis"),
    gives("gemeente.wmo.wat", "ik heb een traplift nodig", "Huis aanpassen"),
    gives("gemeente.wmo.beslissen", "mijn vader heeft ernstige dementie", "Nee"),
    not_("gemeente.wmo.beslissen", "mijn vader heeft dementie", "Nee"),
    gives("gemeente.kwijtschelding.schulden", "ik heb ook een achterstand bij de zorgverzekering", "Ja"),
    gives("gemeente.kwijtschelding.schulden", "ik heb verder geen schulden", "Nee"),
    gives("gemeente.schuldhulp.wie", "ik moet zorgtoeslag terugbetalen, dat is het meeste", "Toeslagen"),
    gives("gemeente.schuldhulp.wie", "mijn grootste schuld is de eigen bijdrage van het cak", "CAK (zorg)"),
    gives("gemeente.schuldhulp.wie", "ik heb een flinke schuld bij eneco", "Huur of energie"),
    # --- digid ----------------------------------------------------------------------------------
    gives("digid.start", "ik heb nog geen digid, hoe krijg ik die", "Ik heb geen DigiD"),
    gives(
        "digid.start",
        "ik kan niet meer inloggen met digid, ik ben mijn wachtwoord kwijt",
        "Inloggen lukt niet",
    ),
    gives("digid.start", "ik heb een nieuwe telefoon en de digid app doet het niet", "De DigiD-app"),
    gives("digid.start", "mijn dochter regelt alles voor mij met de computer", "Iemand helpt mij"),
    not_("digid.start", "ik krijg geen digid sms", "Ik heb geen DigiD"),
    gives("digid.kwijt", "ik ben mijn wachtwoord vergeten", "Mijn wachtwoord"),
    gives("digid.kwijt", "ik weet mijn gebruikersnaam niet meer", "Mijn naam en code"),
    gives("digid.kwijt", "ik krijg geen sms code meer", "Ik krijg geen sms"),
    not_("digid.kwijt", "gebruikersnaam en wachtwoord allebei kwijt", "Mijn wachtwoord"),
    # --- duo ------------------------------------------------------------------------------------
    gives("duo.inburgering.start", "ik ben 3 keer gezakt voor het examen", "Ik kan het niet"),
    gives("duo.inburgering.start", "ik heb al een nt2 diploma", "Ik heb al diploma"),
    gives("duo.inburgering.start", "mijn termijn is bijna voorbij ik heb meer tijd nodig", "Meer tijd nodig"),
    not_("duo.inburgering.start", "ik heb geen diploma", "Ik heb al diploma"),
    gives("duo.inburgering.reden", "ik ben ziek en kan niet leren", "Ziek of beperking"),
    gives("duo.inburgering.reden", "ik heb mijn best gedaan maar ik haal het niet", "Ik deed mijn best"),
    gives("duo.inburgering.reden", "ik heb geen geld voor de lessen", "Geen geld voor les"),
    not_("duo.inburgering.reden", "ik ben niet ziek maar het lukt gewoon niet", "Ziek of beperking"),
    gives(
        "duo.studieschuld.start", "ik kan mijn studieschuld bij duo niet terugbetalen", "Nee, dat lukt niet"
    ),
    gives("duo.studieschuld.start", "kan ik even stoppen met aflossen", "Ik wil stoppen"),
    not_("duo.studieschuld.start", "ik kan het wel betalen maar heb een vraag", "Nee, dat lukt niet"),
    gives("duo.studieschuld.andere", "ik heb ook nog schulden bij de zorgverzekering", "Ja, meer schulden"),
    gives("duo.studieschuld.andere", "geen andere schulden", "Nee, alleen deze"),
    gives("duo.recht.start", "ik ga naar het mbo na de zomer", "Mbo, hbo of uni"),
    gives("duo.recht.start", "ik zit op de havo en word 18", "Vmbo, havo of vwo"),
    not_("duo.recht.start", "ik zit op de havo en wil daarna naar het hbo", "Mbo, hbo of uni"),
    gives("duo.aanvragen.start", "ik wil stufi aanvragen", "Ik wil het aanvragen"),
    gives("duo.aanvragen.start", "ik ben gestopt met mijn studie", "Ik wil stoppen"),
    not_("duo.aanvragen.start", "ik wil niet stoppen met mijn studie", "Ik wil stoppen"),
    gives("duo.aanvragen.digid", "ik heb geen digid", "Nee of werkt niet"),
    gives("duo.aanvragen.stop_reden", "ik stop door ziekte, ik heb een burnout", "Door ziekte"),
    not_("duo.aanvragen.stop_reden", "ik stop omdat mijn moeder ziek is", "Door ziekte"),
    gives("duo.diploma.start", "mijn diploma is kwijt bij de verhuizing", "Ik wil een bewijs"),
    gives(
        "duo.diploma.start",
        "ik wil in het buitenland werken en heb mijn diploma nodig",
        "Voor het buitenland",
    ),
    gives("duo.diploma.start", "ik wil mijn diploma uit syrie laten erkennen", "Uit een ander land"),
    gives("duo.status.start", "mijn stufi is nog steeds niet gestort", "Geld komt niet"),
    gives("duo.status.start", "ik heb minder gekregen dan vorige maand", "Bedrag klopt niet"),
    gives("duo.status.geld", "ik heb geen cent meer om van te leven", "Nee, geen geld"),
    gives("duo.aanvragen.digid", "ik heb wel digid hoor", "Ja"),
    gives("duo.status.start", "ik wil de status van mijn aanvraag zien", "Mijn aanvraag zien"),
    gives("duo.status.geld", "geen stufi deze maand, ik heb nog wat spaargeld", "Ja, nog even"),
    # --- svb ------------------------------------------------------------------------------------
    gives("svb.kind.start", "hoe moet ik kinderbijslag aanvragen", "Ik wil het aanvragen"),
    gives(
        "svb.kind.start",
        "heb ik recht op kinderbijslag als mijn kind in marokko woont",
        "Heb ik er recht op?",
    ),
    gives("svb.kind.start", "mijn dochter wordt 18 in mei", "Mijn kind wordt 18"),
    gives("svb.kind.start", "ik kreeg minder kinderbijslag dan normaal", "Geld klopt niet"),
    not_(
        "svb.kind.start",
        "ik heb kinderbijslag aangevraagd maar het bedrag klopt niet",
        "Ik wil het aanvragen",
    ),
    gives("svb.kind.recht", "mijn zoon woont bij zijn vader", "Nee, ergens anders"),
    gives("svb.kind.recht", "mijn kinderen wonen gewoon bij mij", "Ja"),
    gives("svb.kind.recht", "mijn zoon heeft autisme en veel zorg nodig", "Kind heeft veel zorg"),
    not_("svb.kind.recht", "mijn zoon woont niet meer bij mij", "Ja"),
    gives("svb.aow.start", "ik ben 67 en krijg nog geen aow", "Nee, nog niet"),
    gives("svb.aow.start", "mijn aow is te laag want ik woonde eerst in turkije", "Ja, maar het is laag"),
    gives("svb.aow.start", "mijn vader is 70 en heeft nooit aow aangevraagd", "Voor een ander"),
    not_("svb.aow.start", "mijn vader is 70 en heeft nooit aow aangevraagd", "Nee, nog niet"),
    gives("svb.aow.leeftijd", "ik ben 68 en heb het nooit aangevraagd", "Ja, al even"),
    gives("svb.aow.leeftijd", "ik word volgend jaar 67", "Nee, nog niet"),
    not_("svb.aow.leeftijd", "ik ben 45 en vraag het voor mijn moeder", "Nee, nog niet"),
    gives("svb.hoogte.start", "ik woon alleen sinds mijn man weg is", "Nee, alleen"),
    gives("svb.hoogte.start", "wij wonen samen en krijgen allebei aow", "Ja, samen"),
    gives("svb.hoogte.start", "mijn vrouw is opgenomen in een verpleeghuis", "Partner in zorghuis"),
    gives("svb.hoogte.start", "we zijn gescheiden vorig jaar", "We zijn gescheiden"),
    not_("svb.hoogte.start", "we wonen niet meer samen", "Ja, samen"),
    not_("svb.hoogte.start", "ik woon samen met mijn zoon", "Ja, samen"),
    gives("svb.hoogte.opname", "hij komt nooit meer thuis", "Ja, voor altijd"),
    gives("svb.hoogte.opname", "ze is daar tijdelijk om te revalideren", "Nee, even"),
    not_("svb.hoogte.opname", "het is niet voor altijd denk ik", "Ja, voor altijd"),
    gives("svb.pgb.start", "de svb heeft mijn zorgverlener nog niet betaald", "Zorg niet betaald"),
    gives("svb.pgb.start", "ik wil graag een pgb voor mijn zoon", "Ik wil een pgb"),
    gives("svb.pgb.start", "mijn moeder had een pgb en is overleden", "Hij of zij overleed"),
    gives("svb.hoogte.opname", "we weten nog niet hoe lang ze daar blijft", "Weet ik nog niet"),
    # --- belastingdienst ------------------------------------------------------------------------
    gives("belastingdienst.ib.start", "ik moet nog aangifte doen over vorig jaar", "Aangifte doen"),
    gives("belastingdienst.ib.start", "ik moet 1400 euro bijbetalen aan de belasting", "Ik moet betalen"),
    gives("belastingdienst.ib.start", "mijn voorlopige aanslag klopt niet", "Belasting vooraf"),
    not_("belastingdienst.ib.start", "ik heb aangifte gedaan en moet nu 800 euro betalen", "Aangifte doen"),
    not_("belastingdienst.ib.start", "ik weet niet of ik moet betalen", "Ik moet betalen"),
    gives("belastingdienst.betaling.start", "kan ik het in delen betalen", "Ja, in delen"),
    gives("belastingdienst.betaling.start", "ook niet in termijnen, ik heb echt niks", "Nee, ook niet"),
    not_("belastingdienst.betaling.start", "ook niet in termijnen, ik heb echt niks", "Ja, in delen"),
    gives("belastingdienst.betaling.schulden", "ik heb ook schulden bij het cjib", "Ja"),
    gives("belastingdienst.status.start", "is mijn betalingsregeling al goedgekeurd", "Is hij goedgekeurd?"),
    gives("belastingdienst.status.start", "ik heb de termijn van deze maand gemist", "Betalen lukt niet"),
    gives("belastingdienst.digitaal.start", "mijn digid werkt niet meer", "Inloggen lukt niet"),
    gives("belastingdienst.digitaal.start", "het formulier is veel te ingewikkeld", "Moeilijk formulier"),
    gives(
        "belastingdienst.digitaal.start",
        "ik wil huurtoeslag aanvragen maar lukt niet online",
        "Toeslag aanvragen",
    ),
    gives("belastingdienst.betaling.schulden", "ik heb geen andere schulden dan deze", "Nee"),
    # --- ind ------------------------------------------------------------------------------------
    gives(
        "ind.vergunning.start", "mijn verblijfsvergunning moet verlengd worden bij de ind", "Ik wil verlengen"
    ),
    gives("ind.vergunning.start", "ik wil voor altijd in nederland blijven", "Voor altijd blijven"),
    not_("ind.vergunning.start", "ik wil niet voor altijd blijven", "Voor altijd blijven"),
    gives("ind.vergunning.einddatum", "mijn pasje is sinds maart verlopen", "Hij is al verlopen"),
    gives("ind.vergunning.einddatum", "hij loopt over 2 maanden af", "Binnen 3 maanden"),
    gives("ind.vergunning.einddatum", "mijn vergunning is over 8 maanden op", "Over meer dan 3 mnd"),
    not_("ind.vergunning.einddatum", "mijn vergunning is bijna verlopen", "Hij is al verlopen"),
    gives("ind.probleem.start", "het duurt al 9 maanden, nog niks gehoord van de ind", "Het duurt lang"),
    gives("ind.probleem.start", "mijn aanvraag is afgewezen", "De IND zegt nee"),
    gives("ind.probleem.start", "mijn pasje is gestolen", "Pasje kwijt of stuk"),
    gives("ind.gezin.start", "ik wil mijn vrouw naar nederland laten komen", "Mijn partner"),
    gives("ind.gezin.start", "hoe kan ik mijn kinderen hierheen halen", "Mijn kind"),
    gives("ind.gezin.start", "mijn moeder wil ik laten overkomen", "Mijn ouders of oma"),
    not_("ind.gezin.start", "mijn man wil zijn moeder laten komen", "Mijn partner"),
    not_("ind.gezin.start", "mijn vrouw en kinderen naar nederland halen", "Mijn partner"),
    gives("ind.gezin.asiel", "ik ben statushouder en wil mijn vrouw laten komen", "Ja"),
    gives("ind.gezin.asiel", "ik heb een werkvergunning als kennismigrant", "Nee"),
    not_("ind.gezin.asiel", "ik heb nog geen asielvergunning", "Ja"),
    gives("ind.sticker.start", "ik heb een nieuw paspoort gekregen", "Nieuw paspoort"),
    gives("ind.sticker.start", "er staat een fout in mijn geboortedatum op de sticker", "Er staat iets fout"),
    gives(
        "ind.vergunning.start",
        "ik wil een andere vergunning aanvragen want ik ga hier werken",
        "Ik wil een nieuwe",
    ),
    # --- cak ------------------------------------------------------------------------------------
    gives("cak.achterstand.start", "ik kan de rekening van het cak niet betalen", "Nee, lukt niet"),
    gives("cak.achterstand.start", "kan ik het cak in termijnen betalen", "Wel in delen"),
    gives("cak.achterstand.start", "na mijn salaris kan ik het wel betalen, mag ik uitstel", "Later wel"),
    not_("cak.achterstand.start", "ik wil geen uitstel, ik wil het oplossen", "Later wel"),
    gives("cak.achterstand.schulden", "ik heb ook nog andere schulden", "Ja"),
    gives("cak.factuur.start", "ik heb die zorg nooit gehad maar moet wel betalen", "Nooit gekregen"),
    gives("cak.factuur.start", "de thuiszorg is al in januari gestopt", "Zorg is gestopt"),
    gives("cak.bijdrage.start", "de eigen bijdrage van het cak is veel te hoog", "Bedrag is te hoog"),
    gives("cak.bijdrage.start", "ik ben het er niet mee eens en wil bezwaar maken", "Ik ben het oneens"),
    not_("cak.bijdrage.start", "het bedrag is niet te hoog maar ik snap het niet", "Bedrag is te hoog"),
    gives("cak.bijdrage.situatie", "mijn man woont sinds kort in het verpleeghuis", "Partner in zorghuis"),
    gives("cak.bijdrage.situatie", "ik heb minder inkomen sinds mijn pensioen", "Minder inkomen"),
    gives("cak.bijdrage.voor_wie", "ik regel dit voor mijn moeder", "Voor iemand anders"),
    gives("cak.bijdrage.beslissen", "mijn moeder kan niet meer zelf beslissen", "Nee"),
    # "Nee" is urgent with the signal "beslag": any story of beslag gives it, unless it also says "Ja".
    not_("cak.beslag.start", "er ligt beslag op mijn loon maar ik hou nog genoeg over", "Nee"),
    gives("cak.beslag.start", "het cak houdt elke maand geld in van mijn aow, ik hou nog genoeg over", "Ja"),
    gives("cak.beslag.schulden", "geen andere schulden", "Nee"),
    gives("cak.achterstand.schulden", "geen andere schulden", "Nee"),
    gives("cak.beslag.schulden", "ze houden geld in en de deurwaarder komt ook voor andere rekeningen", "Ja"),
    gives("cak.bijdrage.voor_wie", "het gaat om de rekening voor mezelf", "Voor mijzelf"),
    # --- brief ----------------------------------------------------------------------------------
    gives("brief.start", "ik snap de brief niet, ik moet 300 euro betalen", "Ik moet betalen"),
    gives("brief.start", "ze vragen om bankafschriften en andere papieren", "Ik moet iets doen"),
    gives("brief.start", "ik weet niet wat ze van mij willen met die brief", "Weet ik niet"),
    not_("brief.start", "ik weet niet of ik moet betalen", "Ik moet betalen"),
    gives("brief.datum", "ik moet binnen 6 weken reageren", "Nee, later"),
    gives("brief.datum", "er staat geen datum in", "Geen datum"),
    gives("brief.afzender", "ik heb een brief van de gemeente die ik niet snap", "Gemeente"),
    gives("brief.afzender", "brief van de belastingdienst gekregen", "Belastingdienst"),
    gives("brief.afzender", "het uwv stuurde me een brief", "UWV"),
    gives("brief.afzender", "een brief van het cjib met veel moeilijke woorden", "Iemand anders"),
    not_("brief.afzender", "ik moet naar de gemeente met deze brief van het uwv", "Gemeente"),
    gives("brief.afzender2", "een brief van het cjib met veel moeilijke woorden", "CJIB"),
    gives("brief.afzender2", "brief van duo over mijn schuld", "DUO"),
    gives("brief.afzender", "ik heb een brief van dienst toeslagen gekregen", "Toeslagen"),
    gives("brief.afzender", "de svb heeft me een brief gestuurd", "SVB"),
    gives("brief.afzender2", "ik snap de brief van het cak niet", "CAK"),
    gives("brief.afzender2", "er kwam een brief van de ind", "IND"),
    gives("brief.afzender2", "brief van digid met een code", "DigiD"),
    # --- levensgebeurtenissen -------------------------------------------------------------------
    gives("leven.scheiding.start", "ik ga scheiden en we hebben twee kinderen van 4 en 7", "Ja"),
    gives("leven.scheiding.start", "we gaan uit elkaar, de kinderen blijven bij mij", "Ja"),
    gives("leven.scheiding.start", "ik ga scheiden, onze kinderen zijn al volwassen", "Nee"),
    not_("leven.scheiding.start", "ik ga scheiden en we hebben twee kinderen", "Ja"),
    not_("leven.scheiding.start", "mijn kinderen van 5 en 8 wonen bij mijn ex", "Ja"),
    not_("leven.scheiding.start", "we hebben geen kinderen", "Ja"),
    gives("leven.scheiding.wonen", "ik blijf in ons huis wonen", "In hetzelfde huis"),
    gives("leven.scheiding.wonen", "ik moet verhuizen en zoek een nieuw huis", "Ik ga verhuizen"),
    gives("leven.scheiding.wonen", "ik woon nu even bij mijn ouders", "Even bij familie"),
    not_("leven.scheiding.wonen", "ik blijf niet in ons huis", "In hetzelfde huis"),
    not_("leven.scheiding.wonen", "ik ga niet verhuizen", "Ik ga verhuizen"),
    gives(
        "leven.scheiding.wonen_kind",
        "hij is vertrokken, ik blijf met de kinderen in het huis",
        "In hetzelfde huis",
    ),
    gives("leven.overlijden.kinderen", "mijn man is overleden en ik heb een dochter van 12", "Ja"),
    gives("leven.overlijden.ouder", "mijn vader is overleden, ik studeer nog", "Ik studeer"),
    gives(
        "leven.overlijden.ouder",
        "mijn moeder is overleden en ik moet de erfenis regelen",
        "Ik regel de zaken",
    ),
    not_(
        "leven.overlijden.ouder",
        "Mijn vader is plotseling overleden. Ik studeer en zorg nu voor mijn zusje en oma.",
        "Ik studeer",
    ),
    gives("leven.achttien.start", "ik word volgende maand 18 wat moet ik regelen", "Ik word 18"),
    gives("leven.achttien.start", "mijn zoon wordt 18 in juni", "Mijn kind wordt 18"),
    not_("leven.achttien.start", "mijn zoon wordt 18 in juni", "Ik word 18"),
    gives("leven.achttien.school", "ik ga naar het hbo", "Mbo, hbo of uni"),
    gives("leven.achttien.school", "ik ga gewoon werken na de zomer", "Ik ga werken"),
    not_("leven.achttien.school", "ik zit op het vmbo", "Mbo, hbo of uni"),
    gives("leven.ziekte.start", "ik ben ziek en kan niet meer werken", "Ik ben zelf ziek"),
    gives("leven.ziekte.start", "ik heb kanker en weet niet wat ik moet regelen", "Ik ben zelf ziek"),
    gives("leven.ziekte.start", "mijn man is ernstig ziek geworden", "Iemand in mijn huis"),
    not_("leven.ziekte.start", "ik ben niet ziek, mijn vrouw wel", "Ik ben zelf ziek"),
    gives("leven.ziekte.werk", "ik werk 32 uur bij een supermarkt", "Ik werk"),
    gives("leven.ziekte.werk", "ik heb een uitkering van de gemeente", "Ik heb een uitkering"),
    gives("leven.ziekte.werk", "ik studeer aan de hogeschool", "Ik studeer"),
    not_("leven.ziekte.werk", "ik werk niet meer sinds januari", "Ik werk"),
    not_("leven.ziekte.werk", "Ik heb leukemie. Ik moet stoppen met mijn werk en mijn studie.", "Ik studeer"),
    gives("leven.opname.start", "mijn man moet voor altijd naar het verpleeghuis", "Voor altijd"),
    gives("leven.opname.start", "mijn vrouw is tijdelijk opgenomen voor revalidatie", "Voor even"),
    not_("leven.opname.start", "mijn man gaat naar een verpleeghuis", "Voor altijd"),
    gives("leven.opname.beslissen", "hij heeft vergevorderde alzheimer", "Nee, door dementie"),
    not_(
        "leven.opname.beslissen",
        "Mijn man Joost heeft alzheimer en gaat naar een verpleeghuis. Hij deed altijd alle papieren.",
        "Nee, door dementie",
    ),
    gives("leven.opname.aow", "we krijgen allebei aow", "Ja"),
    gives("leven.opname.aow", "we hebben nog geen aow", "Nee"),
    gives("leven.inkomen.start", "ik ben ontslagen bij mijn werk", "Mijn werk stopt"),
    gives("leven.inkomen.start", "mijn ww stopt volgende maand", "Mijn uitkering stopt"),
    gives("leven.inkomen.start", "ik moet minder uren werken van mijn baas", "Ik werk minder uren"),
    gives("leven.inkomen.start", "mijn eigen zaak gaat failliet", "Mijn bedrijf stopt"),
    not_("leven.inkomen.start", "het bedrijf waar ik werk gaat failliet", "Mijn bedrijf stopt"),
    gives("leven.inkomen.geld", "ik heb nog wat spaargeld", "Ja, nog even"),
    gives("leven.inkomen.geld", "mijn rekening is leeg", "Nee, niets meer"),
    gives("leven.inkomen.geld", "ik loop al achter met de huur", "Ik loop achter"),
    gives("leven.pensioen.start", "ik word 67 en heb de aow nog niet aangevraagd", "Nee, nog niet"),
    gives("leven.pensioen.start", "ik krijg sinds maart aow maar het is weinig", "Ja, ik krijg AOW"),
    not_("leven.pensioen.start", "ik heb nooit aow aangevraagd", "Ja, ik krijg AOW"),
    gives("leven.pensioen.leeftijd", "ik ben 70 jaar oud", "Ja, al even"),
    gives("leven.pensioen.genoeg", "mijn aow is te laag, ik kom niet rond", "Nee, te weinig"),
    gives("leven.pensioen.genoeg", "we komen wel rond hoor", "Ja"),
    not_("leven.pensioen.genoeg", "we komen niet rond", "Ja"),
    gives(
        "leven.verhuizen.start", "we zoeken een goedkoper huis want de huur is te hoog", "Ik wil minder huur"
    ),
    gives("leven.verhuizen.start", "ik ga bij mijn dochter wonen", "Bij familie in huis"),
    not_("leven.verhuizen.start", "mijn moeder komt bij ons wonen", "Bij familie in huis"),
    gives("leven.verhuizen.gezin", "mijn zoon krijgt studiefinanciering", "Ja"),
    not_("leven.verhuizen.gezin", "niemand krijgt een uitkering of stufi", "Ja"),
    gives("leven.inburgering.start", "ik ben statushouder en moet inburgeren", "Ja, asiel"),
    gives("leven.inburgering.start", "ik kwam hier voor mijn man, gezinshereniging", "Ja, gezin of werk"),
    gives("leven.inburgering.start", "ik wacht nog op mijn vergunning", "Nee, nog niet"),
    gives("leven.inburgering.examen", "moet ik het examen doen?", "Ja"),
    gives(
        "leven.inburgering.examen", "ik heb al een diploma van een nederlandse school", "Ik heb al diploma"
    ),
    gives("leven.geboorte.start", "ons kindje is vorige week geboren, wat moeten we regelen", "Ja"),
    gives("leven.geboorte.start", "ik ben zwanger en weet niet wat ik moet regelen", "Nee, ik ben zwanger"),
    not_("leven.geboorte.start", "wat moet ik doen als mijn kind is geboren", "Ja"),
    gives("leven.geboorte.getrouwd", "we zijn niet getrouwd, moet hij het kind erkennen?", "Nee"),
    gives("leven.geboorte.getrouwd", "ik ben zwanger en alleenstaand", "Ik heb geen partner"),
    gives("leven.geboorte.getrouwd", "we zijn getrouwd", "Ja"),
    not_("leven.geboorte.getrouwd", "we zijn niet getrouwd", "Ja"),
    gives("leven.schulden.wie", "ik heb overal schulden", "Bij meer dan een"),
    gives("leven.schulden.wie", "ik weet niet meer bij wie ik schulden heb", "Weet ik niet precies"),
    gives("leven.schulden.welke", "een boete van het cjib die ik niet kan betalen", "CJIB (boete)"),
    gives("leven.schulden.welke", "ik heb een schuld bij de belastingdienst", "Bij de belasting"),
    not_("leven.schulden.welke", "ik heb gemeentelijke belasting niet betaald", "Bij de belasting"),
    gives("leven.scheiding.wonen_kind", "ik moet verhuizen met de kinderen", "Ik ga verhuizen"),
    gives(
        "leven.scheiding.wonen_kind", "ik trek even in bij mijn ouders met de kinderen", "Even bij familie"
    ),
    gives(
        "leven.overlijden.ouder",
        "mijn moeder is overleden, ik zorg voor mijn broertje",
        "Ik zorg voor familie",
    ),
    gives("leven.achttien.school", "ik zit op de havo", "Vmbo, havo of vwo"),
    gives("leven.opname.beslissen_kort", "ze kan niet meer zelf beslissen", "Nee, door dementie"),
    gives("leven.pensioen.leeftijd", "ik ben 63 en wil weten wanneer ik aow krijg", "Nee, nog niet"),
    gives("leven.schulden.wie", "ik heb alleen een schuld bij de zorgverzekering", "Maar bij een"),
    gives("leven.schulden.welke", "ik heb een achterstand bij het cak", "CAK (zorg)"),
]


@pytest.mark.parametrize("node_id,story,label,expected", CASES)
def test_the_story_answers_only_what_it_says(
    intake: Intake, node_id: str, story: str, label: str, expected: bool
) -> None:
    node = schema().nodes[node_id]
    assert label in [o.label for o in node.opties], f"{node_id} heeft geen optie {label!r}"
    turn = reach(intake, node_id, story)
    answer = taken(turn, node_id)
    if expected:
        assert answer == label, f"{story!r} → {answer!r}"
        said_ = next(o.uit_verhaal for o in node.opties if o.label == label)
        assert said_ and said_ in texts(turn)
        assert node.vraag not in texts(turn)
    else:
        assert answer != label, f"{story!r} mag bij {node_id} niet {label!r} geven"


# Words that came before this file, with their cases in tests/bot/test_story_once.py.
# Tested in tests/bot/test_story_once.py.
ELSEWHERE = {
    "leven.overlijden.start",
    "leven.overlijden.papieren",
    "leven.overlijden.kinderen|Nee",
    f"{URGENCY_NODE}|Nee",
}


def test_every_option_with_words_has_a_story_that_gives_it() -> None:
    options = {
        f"{n.id}|{o.label}"
        for n in schema().nodes.values()
        for o in n.opties
        if o.herken and n.thema != "cjib" and n.id not in ELSEWHERE
    }
    given = {f"{c.values[0]}|{c.values[2]}" for c in CASES if c.values[3]}
    assert sorted(options - ELSEWHERE - given) == []


def test_every_option_with_words_says_what_it_took() -> None:
    missing = [
        f"{n.id}: {o.label}"
        for n in schema().nodes.values()
        for o in n.opties
        if o.herken and not o.uit_verhaal
    ]
    assert missing == []


def test_the_urgency_check_has_words_only_for_not_urgent() -> None:
    # Urgent answers come from the signals (signalen.yml); only "niet dringend" has words of its own.
    assert [o.label for o in schema().nodes[URGENCY_NODE].opties if o.herken] == ["Nee"]


# --- a typed answer at the question -----------------------------------------------------------------


@pytest.mark.parametrize(
    "node_id,typed,label",
    [
        ("toeslagen.terug.start", "nee dat klopt echt niet ik heb alles doorgegeven", "Nee, klopt niet"),
        ("uwv.ww.reden", "ze hebben me ontslagen", "Ik ben ontslagen"),
        ("gemeente.bijstand.leeftijd", "ik ben 58", "Nee"),
        ("svb.hoogte.start", "ik woon alleen", "Nee, alleen"),
        ("leven.scheiding.start", "ja 2 kids van 3 en 6", "Ja"),
        ("digid.kwijt", "wachtwoord vergeten", "Mijn wachtwoord"),
    ],
)
def test_the_same_words_read_a_typed_answer(intake: Intake, node_id: str, typed: str, label: str) -> None:
    at = IntakeState(intake_fase=IN_TREE, intake_knoop=node_id, urgentie_gevraagd=True)
    turn = intake.handle(at, said(typed, "nlu_fallback", 0.2))
    vraag = schema().nodes[node_id].vraag
    assert turn.state.antwoorden[0] == f"{vraag} → {label} (“{typed}”)"


# --- whole first messages: questions skipped, the rest asked, one turn fits a phone screen --------


def rendered(reply: Reply) -> str:
    if reply.text:
        return reply.text
    template = str(domain()["responses"][reply.response][0]["text"])
    return template.format_map({k: str(v) for k, v in reply.variables.items()})


def start(intake: Intake, story: str, key: str) -> Tuple[Turn, List[Turn]]:
    """Tell the story, confirm the topic, say "Nee" to the urgency question: the turns."""
    turns = [intake.handle(IntakeState(), said(story, key))]
    turns.append(intake.handle(turns[-1].state, pressed(button(turns[-1], "Ja, dat klopt"))))
    if turns[-1].state.intake_knoop == URGENCY_NODE:
        turns.append(intake.handle(turns[-1].state, pressed(button(turns[-1], "Nee"))))
    return turns[-1], turns


FULL_STORIES = [
    (
        "mijn contract is niet verlengd, hoe vraag ik ww aan",
        "uwv.recht_ww",
        ["uwv.ww.start", "uwv.ww.reden"],
        None,
    ),
    (
        "ik kan niet meer inloggen met digid, ik ben mijn wachtwoord kwijt",
        "digid.hulp",
        ["digid.start", "digid.kwijt"],
        None,
    ),
    (
        "ik moet 1200 euro zorgtoeslag terugbetalen, dat klopt wel maar ik kan het niet in 1 keer betalen",
        "toeslagen.terugvordering",
        ["toeslagen.terug.start", "toeslagen.terug.betalen"],
        "toeslagen.terug.schulden",
    ),
    (
        "ik ben 61 en heb geen werk meer, ik wil bijstand aanvragen",
        "gemeente.bijstand",
        ["gemeente.bijstand.start", "gemeente.bijstand.leeftijd"],
        "gemeente.bijstand.wacht",
    ),
    (
        "ik ga scheiden, we hebben een zoon van 9",
        "leven.scheiding",
        ["leven.scheiding.start"],
        "leven.scheiding.wonen_kind",
    ),
    (
        "ik ga scheiden en we hebben twee kinderen",  # no age: asked
        "leven.scheiding",
        [],
        "leven.scheiding.start",
    ),
]


def fits(turn: Turn) -> bool:
    bubbles = [rendered(r) for r in turn.replies]
    return len(bubbles) <= MAX_TURN_BUBBLES and len("\n".join(bubbles)) <= MAX_TURN_CHARS


@pytest.mark.parametrize("story,key,skipped,asked", FULL_STORIES, ids=[s[0] for s in FULL_STORIES])
def test_a_whole_first_message_skips_what_it_says_and_fits_a_phone_screen(
    intake: Intake, story: str, key: str, skipped: List[str], asked: Optional[str]
) -> None:
    turn, turns = start(intake, story, key)
    assert list(turn.state.uit_verhaal) == skipped
    if asked is None:
        assert turn.state.intake_fase == DONE
    else:
        assert turn.state.intake_knoop == asked
    assert all(fits(t) for t in turns)


def test_two_answers_from_the_story_before_the_advice_fit_a_phone_screen(intake: Intake) -> None:
    story = "ik ga scheiden, we hebben een zoon van 9 en ik blijf met hem in ons huis wonen"
    turn, turns = start(intake, story, "leven.scheiding")
    assert list(turn.state.uit_verhaal) == ["leven.scheiding.start", "leven.scheiding.wonen_kind"]
    assert turn.state.intake_fase == DONE
    assert all(fits(t) for t in turns)
