"""Tier-1 rule table: one entry per (signal, language family), written in natural spelling.

Rules are matched against :func:`ethos_core.injection.normalize.fold` output (lower case,
look-alikes folded, whitespace collapsed, line breaks kept); :func:`compile_rules` folds each
pattern the same way. Patterns use only bounded repetition over disjoint classes (``\\W+`` and
``\\w+`` alternate, gaps are ``{0,N}``), so matching is linear in the input. Each compiled rule
carries its literal anchors and required literals (from the regex syntax tree), which the
classifier uses to skip places where it cannot match, and its word gaps are compiled
possessive where that cannot change a match (:func:`possessive_gaps`).

Signal ids are stable: they appear in ProvenanceVerdict.signals, audit rows, ``ethos check
text`` and docs/injection.md.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import attrs

from ethos_core.injection.normalize import fold_pattern

# The regex syntax tree (private stdlib modules, stable since 3.11) gives each rule's anchors.
_parser: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")

# --- signal ids ----------------------------------------------------------------------------
OVERRIDE = "inj.override"
ROLE_FORGERY = "inj.role_forgery"
JAILBREAK = "inj.jailbreak"
PROMPT_LEAK = "inj.prompt_leak"
EXFIL = "inj.exfil"
CREDENTIAL = "inj.credential"
PERSISTENCE = "inj.persistence"
TOOL_COERCION = "inj.tool_coercion"
COVERT = "inj.covert"
AI_DIRECTED = "inj.ai_directed"
HIDDEN_UNICODE = "inj.hidden_unicode"
TEMPLATE_TOKEN = "inj.template_token"
WRAPPER_FORGERY = "inj.wrapper_forgery"
ENCODED = "inj.encoded"

ALL_SIGNALS = (
    OVERRIDE, ROLE_FORGERY, JAILBREAK, PROMPT_LEAK, EXFIL, CREDENTIAL, PERSISTENCE,
    TOOL_COERCION, COVERT, AI_DIRECTED, HIDDEN_UNICODE, TEMPLATE_TOKEN, WRAPPER_FORGERY, ENCODED,
)

# gap of up to n words between two parts of a phrase
def _gap(n: int) -> str:
    return rf"(?:\W+\w+){{0,{n}}}?\W+"


_G = _gap(5)
_G8 = _gap(8)

# --- English -------------------------------------------------------------------------------
_EN_OVERRIDE_VERB = r"(?:ignore|disregard|forget|override|overrule|bypass|discard|abandon|drop|skip|neglect|cancel|set aside|pay no attention to|do not follow|don't follow|stop following|no longer follow)"
_EN_QUAL = r"(?:previous|prior|preceding|above|earlier|former|original|initial|foregoing|old|existing|system|your|developer|safety|default|prior)"
_EN_OBJ = r"(?:instructions?|instruction set|directives?|rules|guidelines|guardrails|prompts?|commands?|orders|constraints|restrictions|policies|polic(?:y|ies)|programming|context|conversation|tasks?|directions|training|messages?|settings)"
_TEMPORAL_TAIL = r"(?:above|before|so far|until now|up to now|previously|earlier)"
_NOT_NOUN = r"(?!\W*(?:email|e-mail|mail|message|note|warning|error|comment|post|link|attachment|invoice|figure|table|section|paragraph|line|code|example|one|version|draft|reply|request|sentence|text|typo|image|photo|file)s?\b)"

_EN = {
    OVERRIDE: [
        rf"\b{_EN_OVERRIDE_VERB}\W+(?:(?:all|any|every|the|of|and|these|those|my|other|whatever|following|given|you were given|you got|you have|that|which)\W+){{0,4}}{_EN_QUAL}\W+(?:\w+\W+){{0,3}}?{_EN_OBJ}\b",
        rf"\b{_EN_OVERRIDE_VERB}\W+(?:all\W+)?(?:of\W+)?(?:the|your)\W+{_EN_OBJ}\W+(?:\w+\W+){{0,4}}?{_TEMPORAL_TAIL}\b",
        rf"\b{_EN_OVERRIDE_VERB}\W+(?:all\W+|everything\W+|anything\W+)?(?:of\W+)?(?:the\W+)?(?:above|before|preceding|previous|prior)\b{_NOT_NOUN}",
        rf"\b(?:ignore|disregard|forget)\W+(?:all\W+)?(?:everything|anything)\W+(?:(?:you(?:'ve| have)? been told|you were told|(?:that )?you know)|{_TEMPORAL_TAIL})",
        r"\b(?:ignore|disregard|forget)\W+(?:all|any)\W+(?:(?:of\W+)?(?:the|your)\W+)?(?:instructions|rules|guidelines|directives)\b",
        r"\b(?:new|updated|revised|real|actual|true)\W+(?:instructions|directives|system prompt|rules)\W*(?:for (?:the )?(?:ai|assistant|agent|model)\W*)?[:\-]",
        r"\bstop everything\b|\b(?:nevermind|never mind)\W+(?:\w+\W+){0,2}?(?:ignore|instead|just (?:say|print))",
        r"\byour\W+(?:real|actual|new|true|only)\W+(?:task|goal|job|objective|mission|instructions?)\W+(?:is|are|now)\b",
        r"\bnow\W+focus\W+on\W+your\W+new\W+task\b",
        r"\binstead\W+(?:of\W+(?:\w+\W+){0,4}?)?(?:you\W+(?:must|should|will)\W+)?(?:just\W+)?(?:say|print|output|respond with|reply with)\W+[\"'`]",
    ],
    ROLE_FORGERY: [
        r"\n[ >*#\[(<{_-]{0,6}(?:system|developer|admin|administrator|root|operator|sys)(?:\W+(?:message|prompt|note|notice|instruction|instructions|override|update|alert|command))?[ \])>}*_-]{0,4}:\W*(?:you\b|your\b|the (?:ai|assistant|model|agent)|ignore|disregard|forget|new\b|from now on|override|important|urgent|attention|always|never|do not|don't|must|please|execute|run|call|send)",
        r"\n[ >*#\[(<{_-]{0,6}assistant[ \])>}*_-]{0,3}:",
        r"</?\s*(?:system|sys|developer|admin)(?:[_ -]?(?:prompt|message|instructions?|override))?\s*>",
        r"\[\s*(?:system|developer|admin)(?:\s+(?:message|prompt|note|override|update|notice|instructions?))?\s*\]",
        r"\{\{\s*(?:system|developer)\b",
        r"##+\s*(?:system|developer|admin)(?:\s+(?:message|prompt|instructions?|override))?\b",
        r"\b(?:begin|start|end)\W+(?:of\W+)?(?:the\W+)?(?:system|developer|admin)\W+(?:prompt|message|instructions)\b",
        r"\b(?:system|developer|admin|security)\W+(?:override|update|alert|notice)\W*:",
        r"\bthis (?:message|instruction|text|note) (?:is|comes) from (?:the |your )?(?:system|developer|administrator|admin|operator|owner|openai|anthropic)\b",
    ],
    JAILBREAK: [
        r"\bdan mode\b|\bdo anything now\b|\bdeveloper mode (?:enabled|output|on)\b|\bsimulate (?:dan|developer mode|jailbreak)",
        r"\bjailbr(?:oken|eak mode|eaking (?:you|the model))\b|🔓",
        r"\byou are (?:now |going to be |no longer )?(?:dan|stan|dude|jb|an? (?:unrestricted|unfiltered|uncensored|jailbroken|evil|rogue)\b)",
        r"\b(?:from now on|starting now|for the rest of this conversation)\W+(?:\w+\W+){0,2}?you\W+(?:are|will|must|shall)\W+(?:going to\W+)?(?:act|be|play|pretend|respond|answer|behave|simulate|become)\b",
        r"\byou are going to (?:play the role|act as|pretend)\b|\b(?:play|take on) the role of (?:another|an?) (?:ai|chatbot|assistant|model)\b",
        r"\b(?:stay|remain) in character\b|\bbreak(?:ing)? character\b",
        r"\b(?:you|model|assistant|chatbot)\W+(?:\w+\W+){0,4}?(?:have|has|with|without|are free from|free of|no longer (?:have|bound by))\W+(?:no|any|zero)?\W*(?:restrictions|filters|filtering|limitations|censorship|ethical (?:guidelines|constraints)|moral (?:guidelines|constraints)|content polic(?:y|ies))\b",
        r"\bignor(?:e|es|ing) (?:all )?(?:of )?(?:openai|anthropic|google)(?:'s)? (?:content )?polic",
        r"\b(?:act|behave|respond) as (?:if you (?:are|were) )?(?:an? )?(?:unrestricted|unfiltered|uncensored|unconstrained|free) (?:ai|model|assistant|simulation|chatbot)\b",
        r"\bwithout any pre-?programmed content filter\b|\byou don't follow any ethics\b",
    ],
    PROMPT_LEAK: [
        rf"\b(?:repeat|print|output|reveal|show|display|tell|give|share|paste|dump|leak|write (?:down|out)|list|spell out|translate|summari[sz]e|put|return|echo|recite|expose|disclose|copy)\b{_G8}(?:(?:your|the)\W+(?:\w+\W+)?(?:system prompt|initial prompt|system message|hidden prompt|prompt texts?)|(?:original|initial|hidden|secret|first|system|developer|internal|exact)\W+(?:instructions|prompt|rules|guidelines|message)|the (?:words|text|sentences?) above|your (?:instructions|prompt|rules|guidelines|directives|initial prompt)|everything above|initialization above|the above (?:text|instructions|prompt))\b",
        r"\b(?:what(?:'s| is| are| was| were)|tell me)\W+(?:\w+\W+){0,6}?(?:your|the) (?:system prompt|initial prompt|system message|hidden instructions|original instructions)\b",
        r"\b(?:sentence|line|word|part)s? of your (?:system |initial )?prompt\b",
    ],
    EXFIL: [
        # markdown image or link whose URL carries a data placeholder
        r"!?\[[^\]\n]{0,200}+\]\(\s*(?:https?:)?//[^)\s]{0,400}?(?:\{[^}\s]{0,40}\}|\$\{?\w|%7b|<[^>\s]{1,40}>|\[[a-z_ ]{1,30}\]|[?&/=](?:data|secret|secrets|token|key|apikey|api_key|password|passwd|pwd|creds?|credentials|history|conversation|chat|memory|prompt|payload|leak|exfil|ssn|cookie|session|info|email|contents?|summary)\b)",
        r"\b(?:render|display|show|include|embed|output|add|insert)\W+(?:\w+\W+){0,4}?(?:image|markdown image|img|pixel)\W+(?:\w+\W+){0,6}?(?:https?://|url)\W+(?:\w+\W+){0,10}?(?:append|include|containing|with|replace)\b",
        rf"\b(?:send|post|upload|forward|transmit|exfiltrate|leak|email|e-mail|mail|submit|copy|append|attach|encode|embed|put|add|deliver|pipe|sync|share|report)\b{_G8}(?:(?:all|every|your|the owner's|the user's|user|their|his|her|stored|saved)\W+(?:\w+\W+){{0,2}}?(?:secrets?|credentials?|passwords?|tokens?|api keys?|keys|emails?|messages|conversation|chat history|history|memory|memories|files|documents|data|contacts|inbox|cookies|session|notes|contents)|(?:secrets?|credentials?|passwords?|api keys?|access tokens?|private keys?|ssh keys?|cookies|\.env\b|id_rsa|system prompt|conversation history|chat history|the conversation|the contents of|personal data|user data))\b(?:\W+(?:\w+\W+){{0,10}}?)(?:to|at|into|on|via|using|through|towards?)\W+(?:https?://|www\.|[\w.+-]+@[\w-]+\.[\w.]+|(?:the |this |our |my |that )?(?:webhook|endpoint|url|server|address|pastebin|ngrok|requestbin|attacker|remote))",
        r"\b(?:base64|hex|url|rot13)[- ]?encod\w*\W+(?:\w+\W+){0,8}?(?:and|then)\W+(?:append|add|include|put|send|attach|place)\w*\W+(?:\w+\W+){0,6}?(?:url|link|query|request|image|parameter)\b",
        r"\bappend\W+(?:\w+\W+){0,6}?(?:to|in)\W+(?:the\W+)?(?:url|query string|link|image url|request)\W+(?:\w+\W+){0,4}?(?:https?://|and (?:visit|open|fetch|load|request))",
        r"\b(?:visit|open|fetch|load|request|call|navigate to|browse to|curl|wget)\W+(?:the\W+)?(?:url\W+)?https?://\S{0,200}?[?&][\w-]{1,20}=(?:\{|\$|<|\[|%7b)",
    ],
    CREDENTIAL: [
        rf"\b(?:print|reveal|show|display|output|dump|leak|give|tell|share|send|read|cat|list|provide|paste|copy|extract|retrieve|fetch|return|include|echo|expose|disclose|upload|forward|email|collect|grab|steal)\b{_G}(?:(?:your|all|any|every|stored|saved|the (?:user's|owner's|admin|system's|agent's|server's|environment)|the user|the owner|user's|owner's|admin|system|environment|their|his|her)\W+(?:\w+\W+){{0,2}}?(?:api[ _-]?keys?|secret[ _-]?keys?|access[ _-]?keys?|private[ _-]?keys?|ssh keys?|passwords?|passwd|passphrases?|credentials?|auth(?:entication)? tokens?|access tokens?|bearer tokens?|session (?:tokens?|cookies?)|cookies|secrets|environment variables|env vars|seed phrases?|mnemonic|2fa codes?|one-time (?:codes?|passwords?)|recovery codes?)|\.env\b|id_rsa|id_ed25519|~?/?\.ssh\b|~?/?\.aws\b|aws_secret_access_key|\.netrc|\.npmrc|\.pypirc|/etc/shadow|/etc/passwd|\.git-credentials|credentials\.json)",
        r"\b(?:cat|type|more|less|head|tail|base64|xxd|od)\s+[~./\w-]{0,60}(?:\.env|id_rsa|id_ed25519|\.ssh/|\.aws/credentials|/etc/shadow|\.netrc|\.npmrc|\.git-credentials)\b",
        r"\b(?:echo|printenv|env)\W+\$?\{?(?:[a-z_]*(?:api_?key|secret|token|password|passwd)[a-z_]*)\b",
    ],
    PERSISTENCE: [
        rf"\b(?:remember|memorize|memorise|store|save|record|write|add|append|insert|keep|persist|commit)\b{_G8}(?:in|to|into|inside|within)\W+(?:\w+\W+){{0,2}}?(?:memory|memories|long[- ]term memory|persistent memory|system prompt|instructions|knowledge base|toolset|\.bashrc|\.zshrc|\.profile|crontab|config\.ya?ml|toolset\.ya?ml|authorized_keys|agents\.md|claude\.md|\.cursorrules|rules file)\b",
        r"\b(?:remember|memorize|memorise)\W+(?:\w+\W+){0,4}?(?:permanently|forever|for (?:all )?(?:future|later|next) (?:conversations|sessions|chats|interactions|tasks))",
        r"\b(?:always|never|from now on|permanently|forever|in every)\W+(?:\w+\W+){0,12}?(?:in|for|during|across)\W+(?:all\W+)?(?:future|subsequent|later|every|each|other)\W+(?:conversations|sessions|chats|responses|replies|interactions|turns|users)\b",
        r"\b(?:update|modify|change|edit|overwrite|rewrite|replace|add to|append to)\W+(?:your\W+(?:system prompt|instructions|memory|memories|rules|persona|personality|directives|core (?:rules|values))|the\W+(?:system prompt|agent'?s? (?:memory|instructions|config(?:uration)?)))\b",
        r"\b(?:add|append|write)\W+(?:\w+\W+){0,6}?(?:to|into)\W+(?:~/)?(?:\.ssh/authorized_keys|\.bashrc|\.zshrc|crontab|config\.yaml|toolset\.yaml)",
    ],
    TOOL_COERCION: [
        r"\b(?:you|assistant|agent|model)\W+(?:\w+\W+){0,3}?(?:must|should|need to|have to|are required to|shall|will now|are instructed to)\W+(?:now\W+|immediately\W+|then\W+)?(?:call|invoke|use|run|execute|trigger)\W+(?:the\W+)?(?:\w+\W+){0,3}?(?:tool|function|command|shell|terminal|plugin|skill|action)\b",
        r"\b(?:call|invoke|use|trigger|run)\W+(?:the\W+)?`?[a-z][a-z0-9]*_[a-z0-9_]+`?\W+(?:tool|function|action|skill)\b",
        r"\b(?:call|invoke|trigger)\W+(?:the\W+)?(?:web_post|send_email|send_message|http_post|shell|bash|exec|terminal|run_command|execute_command)\b",
        r"\b(?:immediately|now|silently|automatically)\W+(?:call|invoke|execute|run)\W+(?:the\W+)?(?:following\W+)?(?:tool|function|command|shell command|code)\b",
        r"\bexecute\W+(?:the\W+)?following\W+(?:shell\W+|bash\W+|terminal\W+)?(?:command|code|script)s?\W+(?:\w+\W+){0,4}?(?:without|immediately|now|silently)\b",
    ],
    COVERT: [
        r"\b(?:without|don't|do not|never|avoid)\W+(?:ask\w*|confirm\w*|tell\w*|notify\w*|inform\w*|mention\w*|alert\w*|warn\w*|show\w*|reveal\w*|let)\W+(?:\w+\W+){0,3}?(?:the\W+)?(?:user|owner|human|operator|them)\b(?:\W+(?:know|about|of|that))?",
        r"\b(?:do not|don't|never)\W+(?:mention|reveal|disclose|tell anyone|say)\W+(?:\w+\W+){0,3}?(?:these|this|the following|the above)\W+(?:instructions|message|note|text)\b",
        r"\b(?:secretly|silently|covertly|quietly)\W+(?:\w+\W+){0,2}?(?:send|forward|post|upload|call|execute|run|email|copy|add)\b",
    ],
    AI_DIRECTED: [
        r"\bif you(?: are|'re)\W+(?:an?\W+)?(?:ai|a\.i\.|llm|large language model|language model|assistant|ai assistant|agent|ai agent|chatbot|bot|automated (?:system|agent|assistant)|gpt|claude|copilot|gemini)\b",
        r"\b(?:dear|attention|note to|message (?:for|to)|instructions? (?:for|to)|hello|important (?:message|note|instructions?) (?:for|to))\W+(?:the\W+|any\W+|all\W+)?(?:ai|llm|assistant|agent|ai assistant|ai agent|chatbot|bot|claude|chatgpt|gpt|gemini|copilot|language model)s?\b\W*[:,!]",
        r"\b(?:llm|assistant|agent|model|chatbot)s?\W+(?:that (?:are|is)\W+)?(?:reading|processing|summari[sz]ing|parsing|scraping|analy[sz]ing)\W+(?:this|these)\W+(?:page|email|message|document|text|file|content|site|website)\b",
    ],
}

# --- other languages -----------------------------------------------------------------------
_LANG = {
    "de": {
        OVERRIDE: [
            r"\b(?:ignoriere|ignorier|ignorieren sie|vergiss|vergessen sie|missachte|missachten sie|übergehe|verwirf)\W+(?:\w+\W+){0,4}?(?:anweisungen|instruktionen|regeln|befehle|vorgaben|richtlinien|aufgaben|anordnungen)\b",
            r"\b(?:vergiss|vergessen sie|ignoriere|ignorieren sie)\W+(?:einfach\W+)?alles\W+(?:davor|bisherige|bisher|vorher|zuvor|obige|was\W+(?:\w+\W+){0,3}?(?:gesagt|gesagt wurde|vorher))\b",
            r"\bneue\W+(?:anweisungen|instruktionen|aufgabe|regeln)\W*:",
        ],
        PROMPT_LEAK: [r"\b(?:zeige|zeig|gib|nenne|wiederhole|verrate|drucke)\W+(?:\w+\W+){0,5}?(?:system-?prompt|systemanweisung|(?:deine|die)\W+(?:ursprünglichen\W+|geheimen\W+)?(?:anweisungen|instruktionen))\b"],
        CREDENTIAL: [r"\b(?:zeige|zeig|gib|nenne|sende|schicke|verrate|lies|kopiere|übermittle)\W+(?:\w+\W+){0,4}?(?:passwort|passwörter|kennwort|kennwörter|api-?schlüssel|zugangsdaten|anmeldedaten|geheimen schlüssel|privaten schlüssel|token|\.env)\b"],
        EXFIL: [r"\b(?:sende|schicke|übermittle|lade|leite)\W+(?:\w+\W+){0,8}?(?:passw\w*|kennw\w*|zugangsdaten|schlüssel|daten|dateien|e-?mails|nachrichten|verlauf|inhalte?)\W+(?:\w+\W+){0,6}?(?:an|nach|zu|hoch zu|weiter an)\W+(?:https?://|[\w.+-]+@[\w-]+\.)"],
        PERSISTENCE: [r"\b(?:merke dir|speichere|schreibe)\W+(?:\w+\W+){0,8}?(?:dauerhaft|für immer|in (?:deinem|dein|dem|den) (?:gedächtnis|speicher|langzeitgedächtnis)|in (?:alle|allen) (?:zukünftigen|künftigen) (?:gesprächen|unterhaltungen|sitzungen))"],
        JAILBREAK: [r"\bab (?:jetzt|sofort) bist du\b|\bdu bist (?:jetzt|ab sofort|nun)\W+(?:\w+\W+){0,3}?(?:ohne (?:einschränkungen|regeln|filter)|uneingeschränkt)"],
    },
    "fr": {
        OVERRIDE: [
            r"\b(?:ignore|ignorez|oublie|oubliez|ne tiens pas compte|ne tenez pas compte|fais abstraction|faites abstraction|outrepasse|outrepassez)\W+(?:\w+\W+){0,5}?(?:instructions|consignes|règles|directives|ordres|commandes|indications)\b",
            r"\b(?:oublie|oubliez|ignore|ignorez)\W+tout\W+(?:ce qui précède|ce qui a été dit|ce que|avant|le reste)",
            r"\bnouvelles\W+(?:instructions|consignes|règles)\W*:",
        ],
        PROMPT_LEAK: [r"\b(?:montre|montrez|affiche|affichez|révèle|révélez|répète|répétez|donne|donnez|écris|écrivez)\W+(?:\w+\W+){0,5}?(?:(?:ton|votre) (?:prompt|invite)(?: système)?|prompt système|(?:tes|vos) instructions(?: initiales| secrètes)?)\b"],
        CREDENTIAL: [r"\b(?:montre|montrez|donne|donnez|envoie|envoyez|révèle|révélez|affiche|affichez|lis|lisez|copie|copiez)\W+(?:\w+\W+){0,4}?(?:mots? de passe|clés? (?:d'api|api|secrètes?|privées?)|identifiants|jetons? d'accès|\.env)\b"],
        EXFIL: [r"\b(?:envoie|envoyez|transfère|transférez|transmets|transmettez|téléverse)\W+(?:\w+\W+){0,8}?(?:mots? de passe|identifiants|clés?|données|fichiers|e-?mails|courriels|messages|historique|contenus?)\W+(?:\w+\W+){0,6}?(?:à|vers|sur|au|chez)\W+(?:https?://|[\w.+-]+@[\w-]+\.)"],
        PERSISTENCE: [r"\b(?:souviens-toi|souvenez-vous|retiens|retenez|mémorise|mémorisez|enregistre|enregistrez)\W+(?:\w+\W+){0,8}?(?:pour toujours|définitivement|dans (?:ta|votre) mémoire|pour (?:toutes les|les) (?:futures|prochaines) (?:conversations|sessions))"],
        JAILBREAK: [r"\bà partir de maintenant,? tu es\b|\btu es (?:maintenant|désormais)\W+(?:\w+\W+){0,3}?(?:sans (?:restrictions|règles|filtres|limites))"],
    },
    "es": {
        OVERRIDE: [
            r"\b(?:ignora|ignore|ignoren|olvida|olvide|olviden|omite|omita|descarta|haz caso omiso de|haga caso omiso de|desatiende)\W+(?:\w+\W+){0,5}?(?:instrucciones|indicaciones|reglas|directrices|órdenes|ordenes|comandos|normas)\b",
            r"\b(?:olvida|olvide|ignora|ignore)\W+todo\W+(?:lo anterior|lo que (?:te |se )?(?:dije|dijeron|ha dicho)|lo de antes)",
            r"\bnuevas\W+(?:instrucciones|reglas|indicaciones)\W*:",
        ],
        PROMPT_LEAK: [r"\b(?:muestra|muéstrame|muestrame|revela|repite|dame|imprime|escribe)\W+(?:\w+\W+){0,5}?(?:(?:tu|el) prompt(?: del sistema| de sistema| inicial)?|(?:tus|las) instrucciones(?: iniciales| originales| secretas| del sistema)?)\b"],
        CREDENTIAL: [r"\b(?:muestra|muéstrame|muestrame|dame|envía|envia|revela|lee|copia|imprime)\W+(?:\w+\W+){0,4}?(?:contraseñas?|contrasenas?|claves? (?:de api|api|secretas?|privadas?)|credenciales|tokens? de acceso|\.env)\b"],
        EXFIL: [r"\b(?:envía|envia|manda|reenvía|reenvia|sube|transmite)\W+(?:\w+\W+){0,8}?(?:contraseñas?|contrasenas?|credenciales|claves|datos|archivos|correos|mensajes|historial|contenidos?)\W+(?:\w+\W+){0,6}?(?:a|al|hacia|en)\W+(?:https?://|[\w.+-]+@[\w-]+\.)"],
        PERSISTENCE: [r"\b(?:recuerda|memoriza|guarda|almacena)\W+(?:\w+\W+){0,8}?(?:para siempre|permanentemente|en (?:tu|la) memoria|en (?:todas las|las) (?:futuras|próximas|proximas) (?:conversaciones|sesiones))"],
        JAILBREAK: [r"\ba partir de ahora,? eres\b|\bahora eres\W+(?:\w+\W+){0,3}?(?:sin (?:restricciones|reglas|filtros|límites|limites))"],
    },
    "pt": {
        OVERRIDE: [
            r"\b(?:ignore|ignora|ignorem|esqueça|esqueca|esqueçam|desconsidere|desconsidera|descarte|descarta)\W+(?:\w+\W+){0,5}?(?:instruções|instrucoes|instrução|regras|diretrizes|ordens|comandos|orientações|orientacoes)\b",
            r"\b(?:esqueça|esqueca|ignore|ignora)\W+tudo\W+(?:o que (?:foi dito|eu disse|te disseram)|acima|antes|anterior)",
            r"\bnovas\W+(?:instruções|instrucoes|regras)\W*:",
        ],
        PROMPT_LEAK: [r"\b(?:mostre|mostra|revele|revela|repita|repete|me dê|me de|imprima|escreva)\W+(?:\w+\W+){0,5}?(?:(?:seu|o) prompt(?: do sistema| de sistema| inicial)?|(?:suas|as) instruções(?: iniciais| originais| secretas)?)\b"],
        CREDENTIAL: [r"\b(?:mostre|mostra|me dê|me de|envie|envia|revele|revela|leia|copie|imprima)\W+(?:\w+\W+){0,4}?(?:senhas?|chaves? (?:de api|api|secretas?|privadas?)|credenciais|tokens? de acesso|\.env)\b"],
        EXFIL: [r"\b(?:envie|envia|mande|manda|encaminhe|encaminha|carregue|transmita)\W+(?:\w+\W+){0,8}?(?:senhas?|credenciais|chaves|dados|arquivos|ficheiros|e-?mails|mensagens|histórico|historico|conteúdos?)\W+(?:\w+\W+){0,6}?(?:para|a|ao|em)\W+(?:https?://|[\w.+-]+@[\w-]+\.)"],
        PERSISTENCE: [r"\b(?:lembre-se|lembre|memorize|guarde|salve|armazene)\W+(?:\w+\W+){0,8}?(?:para sempre|permanentemente|na (?:sua|tua) memória|na (?:sua|tua) memoria|em (?:todas as|as) (?:futuras|próximas|proximas) (?:conversas|sessões|sessoes))"],
        JAILBREAK: [r"\ba partir de agora,? você é\b|\bagora você é\W+(?:\w+\W+){0,3}?(?:sem (?:restrições|restricoes|regras|filtros|limites))"],
    },
    "it": {
        OVERRIDE: [
            r"\b(?:ignora|ignori|ignorate|dimentica|dimentichi|dimenticate|trascura|trascuri|tralascia|scarta|non seguire|non considerare)\W+(?:\w+\W+){0,5}?(?:istruzioni|regole|direttive|indicazioni|ordini|comandi|linee guida)\b",
            r"\b(?:dimentica|dimentichi|ignora|ignori)\W+tutto\W+(?:quello che|ciò che|cio che|quanto detto|prima|sopra)",
            r"\bnuove\W+(?:istruzioni|regole|direttive)\W*:",
        ],
        PROMPT_LEAK: [r"\b(?:mostra|mostrami|rivela|ripeti|dammi|stampa|scrivi)\W+(?:\w+\W+){0,5}?(?:(?:il tuo|il) prompt(?: di sistema| iniziale)?|(?:le tue|le) istruzioni(?: iniziali| originali| segrete| di sistema)?)\b"],
        CREDENTIAL: [r"\b(?:mostra|mostrami|dammi|invia|rivela|leggi|copia|stampa)\W+(?:\w+\W+){0,4}?(?:password|chiavi? (?:api|segrete?|private?)|credenziali|token di accesso|\.env)\b"],
        EXFIL: [r"\b(?:invia|manda|inoltra|carica|trasmetti)\W+(?:\w+\W+){0,8}?(?:password|credenziali|chiavi|dati|file|e-?mail|messaggi|cronologia|contenuti?)\W+(?:\w+\W+){0,6}?(?:a|al|verso|su)\W+(?:https?://|[\w.+-]+@[\w-]+\.)"],
        PERSISTENCE: [r"\b(?:ricorda|ricordati|memorizza|salva|registra)\W+(?:\w+\W+){0,8}?(?:per sempre|permanentemente|nella (?:tua )?memoria|in (?:tutte le|le) (?:future|prossime) (?:conversazioni|sessioni))"],
        JAILBREAK: [r"\bda ora in poi,? sei\b|\bora sei\W+(?:\w+\W+){0,3}?(?:senza (?:restrizioni|regole|filtri|limiti))"],
    },
    "ru": {
        OVERRIDE: [
            r"(?:игнорируй|игнорируйте|проигнорируй|проигнорируйте|забудь|забудьте|не обращай внимания на|не обращайте внимания на|отмени|отмените|пренебреги)\W+(?:\w+\W+){0,4}?(?:инструкци\w*|указани\w*|правил\w*|команд\w*|распоряжени\w*|директив\w*)",
            r"(?:забудь|забудьте|игнорируй|игнорируйте)\W+(?:\w+\W+)?(?:всё|все)\W+(?:что|сказанное|выше|ранее|до этого|предыдущее)",
            r"новые\W+(?:инструкции|указания|правила)\W*:",
        ],
        PROMPT_LEAK: [r"(?:покажи|покажите|выведи|выведите|повтори|повторите|раскрой|раскройте|напиши|напишите|дай)\W+(?:\w+\W+){0,5}?(?:системн\w* (?:промпт|подсказк\w*|сообщени\w*|инструкци\w*)|(?:свой|свои|твой|твои|ваш|ваши) (?:промпт|инструкции|исходные инструкции))"],
        CREDENTIAL: [r"(?:покажи|покажите|дай|дайте|отправь|отправьте|раскрой|выведи|прочитай|скопируй)\W+(?:\w+\W+){0,4}?(?:парол\w*|api[- ]?ключ\w*|ключ\w* api|секретн\w* ключ\w*|приватн\w* ключ\w*|учётн\w* данн\w*|учетн\w* данн\w*|токен\w*|\.env)"],
        EXFIL: [r"(?:отправь|отправьте|перешли|перешлите|загрузи|передай|передайте)\W+(?:\w+\W+){0,8}?(?:парол\w*|ключ\w*|данн\w*|файл\w*|письм\w*|сообщени\w*|истори\w*|содержим\w*)\W+(?:\w+\W+){0,6}?(?:на|в|по адресу|к)\W+(?:https?://|[\w.+-]+@[\w-]+\.)"],
        PERSISTENCE: [r"(?:запомни|запомните|сохрани|сохраните|запиши|запишите)\W+(?:\w+\W+){0,8}?(?:навсегда|в (?:свою |твою )?памят\w*|во всех (?:будущих|следующих) (?:разговорах|беседах|сессиях))"],
        JAILBREAK: [r"(?:с этого момента|отныне) ты\b|\bты теперь\W+(?:\w+\W+){0,3}?(?:без (?:ограничений|правил|фильтров))"],
    },
    "zh": {
        OVERRIDE: [
            r"(?:忽略|忽视|無視|无视|忘记|忘記|忘掉|不要理会|不要理會|不要遵守|别管|別管|跳过|跳過|放弃|放棄)[^。！？\n]{0,12}?(?:指令|指示|说明|說明|规则|規則|提示词|提示詞|提示|命令|要求|设定|設定)",
            r"(?:忽略|忘记|忘記|无视|無視)(?:之前|以前|上面|上述|前面|先前|所有)(?:的)?(?:内容|內容|一切|所有)",
            r"新的?(?:指令|指示|规则|規則|任务|任務)\s*[:：]",
        ],
        PROMPT_LEAK: [r"(?:输出|輸出|显示|顯示|告诉我|告訴我|重复|重複|打印|泄露|洩露|给我|給我|导出|導出|分享)[^。！？\n]{0,12}?(?:系统提示|系統提示|系统指令|系統指令|初始提示|提示词|提示詞|内部指令|內部指令|设置、角色|设置、角色或内部指令|配置和操作指南)"],
        CREDENTIAL: [r"(?:输出|輸出|显示|顯示|告诉我|告訴我|发送|發送|给我|給我|读取|讀取|泄露|洩露)[^。！？\n]{0,10}?(?:密码|密碼|api ?密钥|api ?密鑰|api ?key|密钥|密鑰|私钥|私鑰|凭证|憑證|令牌|\.env)"],
        EXFIL: [r"(?:发送|發送|发给|發給|转发|轉發|上传|上傳|传到|傳到|提交)[^。！？\n]{0,20}?(?:到|至|给|給)\s*(?:https?://|[\w.+-]+@[\w-]+\.)", r"(?:把|将|將)[^。！？\n]{0,16}?(?:密码|密碼|密钥|密鑰|数据|數據|文件|邮件|郵件|聊天记录|聊天記錄)[^。！？\n]{0,10}?(?:发送|發送|发给|發給|上传|上傳)"],
        PERSISTENCE: [r"(?:记住|記住|保存|存储|存儲|写入|寫入)[^。！？\n]{0,16}?(?:永久|永远|永遠|记忆|記憶|以后的?所有|以後的?所有|今后|今後|未来的?(?:对话|對話|会话|會話))"],
        JAILBREAK: [r"(?:从现在开始|從現在開始|从现在起|從現在起)[^。！？\n]{0,4}?你(?:是|将|將|要)", r"你现在是[^。！？\n]{0,12}?(?:没有|沒有|不受)[^。！？\n]{0,6}?(?:限制|规则|規則|过滤|過濾)"],
    },
    "ja": {
        OVERRIDE: [
            r"(?:以前|前|上記|これまで|先ほど|最初|すべて|全て)の[^。！？\n]{0,8}?(?:指示|命令|ルール|指令|設定|プロンプト)[^。！？\n]{0,8}?(?:無視|忘れ|破棄)",
            r"(?:指示|命令|ルール|指令)を(?:すべて|全て)?(?:無視|忘れ)",
            r"(?:無視して|忘れて)[^。！？\n]{0,12}?(?:指示|命令|ルール)",
            r"新しい(?:指示|命令|ルール)\s*[:：]",
        ],
        PROMPT_LEAK: [r"(?:システムプロンプト|初期プロンプト|最初の指示|内部の指示)[^。！？\n]{0,10}?(?:表示|出力|教え|見せ|繰り返|書い)"],
        CREDENTIAL: [r"(?:パスワード|apiキー|api ?key|秘密鍵|認証情報|アクセストークン|トークン|\.env)[^。！？\n]{0,10}?(?:表示|出力|教え|見せ|送信|送って|送れ|読ん|貼り付け)"],
        EXFIL: [r"https?://[^。！？\n\s]{0,80}[^。！？\n]{0,12}?(?:に|へ)[^。！？\n]{0,6}?(?:送信|送って|送れ|アップロード|転送)", r"(?:パスワード|認証情報|秘密鍵|データ|ファイル|メール|会話履歴)[^。！？\n]{0,16}?(?:送信|送って|アップロード|転送)[^。！？\n]{0,8}?(?:https?://|[\w.+-]+@[\w-]+\.)"],
        PERSISTENCE: [r"(?:記憶|覚えて|保存)[^。！？\n]{0,12}?(?:永久|ずっと|今後(?:すべて|全て)?の|将来の(?:会話|セッション))", r"(?:今後|これから)(?:すべて|全て)?の(?:会話|セッション|応答)[^。！？\n]{0,16}?(?:記憶|覚えて|保存|常に)"],
        JAILBREAK: [r"(?:今から|これから)あなたは[^。！？\n]{0,16}?(?:制限|ルール|フィルター)(?:の|が)?(?:ない|無い|なし)"],
    },
}

# Signals whose phrase matches are skipped when the context shows they are quoted/mentioned.
MENTION_SENSITIVE = frozenset({OVERRIDE, ROLE_FORGERY, JAILBREAK, PROMPT_LEAK, CREDENTIAL, PERSISTENCE, TOOL_COERCION, COVERT, AI_DIRECTED, EXFIL})


@attrs.frozen
class CompiledRule:
    """One top-level alternative of a rule: its signal, pattern, literal anchors and required
    literals.

    Every match of ``pattern`` starts with one of ``anchors`` (derived from the regex syntax
    tree); an empty ``anchors`` means the rule must be searched over the whole text. Every match
    also contains one of ``required`` after its first part (empty: no usable set was found), so
    the rule need not be tried where none of them occurs later in the text.
    """

    signal: str
    pattern: re.Pattern[str]
    anchors: frozenset[str]
    required: frozenset[str] = frozenset()


def rule_sources() -> list[tuple[str, str]]:
    """(signal, folded regex source) for every top-level rule alternative, in table order."""
    by_signal: dict[str, list[str]] = {}
    for sig, patterns in _EN.items():
        by_signal.setdefault(sig, []).extend(patterns)
    for lang_rules in _LANG.values():
        for sig, patterns in lang_rules.items():
            by_signal.setdefault(sig, []).extend(patterns)
    sources = []
    for sig in ALL_SIGNALS:
        for p in by_signal.get(sig, ()):
            for alt in _top_level_alternatives(fold_pattern(p)):
                # A leading \b defeats the regex engine's fast paths; the classifier re-checks
                # the word boundary at the match start instead.
                if alt.startswith("\\b"):
                    alt = alt[2:]
                sources.append((sig, alt))
    return sources


def possessive_gaps(source: str) -> str:
    """``source`` with the word gaps' inner runs made possessive: ``(?:\\w+\\W+)`` becomes
    ``(?:\\w++\\W+)`` and ``(?:\\W+\\w+){m,n}`` followed by ``\\W`` becomes ``(?:\\W++\\w++){m,n}``.
    Same matches: ``\\w`` and ``\\W`` are complements and each possessive run is followed by the
    other class, so giving back characters can never help; it only saves the regex engine
    those attempts (the reference classifier path compiles the sources unchanged)."""
    source = source.replace(r"(?:\w+\W+)", r"(?:\w++\W+)")
    return _WORD_LED_GAP_RE.sub(r"(?:\\W++\\w++)\1", source)


# ``(?:\W+\w+)`` with its repeat, only where a non-word character must come next.
_WORD_LED_GAP_RE = re.compile(r"\(\?:\\W\+\\w\+\)(\{\d*,?\d*\}\??)(?=\\W)")


def compile_rules() -> tuple[CompiledRule, ...]:
    """Every rule alternative of every language, folded and compiled, with its anchors and
    required literals."""
    return tuple(
        CompiledRule(sig, re.compile(possessive_gaps(alt)), _anchors(alt), _required(alt)) for sig, alt in rule_sources()
    )


def _seq_prefixes(items: list[tuple[Any, Any]]) -> list[tuple[str, bool]]:
    """Literal prefixes of every way a parsed regex sequence can start: (prefix, complete)."""
    outs: list[tuple[str, bool]] = [("", True)]
    for op, av in items:
        if not any(done for _, done in outs):
            break
        if op is _C.AT and all(p == "" for p, _ in outs):
            continue
        sub: list[tuple[str, bool]] | None = None
        if op is _C.LITERAL:
            sub = [(chr(av), True)]
        elif op is _C.SUBPATTERN:
            sub = _seq_prefixes(list(av[3]))
        elif op is _C.BRANCH:
            sub = [x for branch in av[1] for x in _seq_prefixes(list(branch))]
        elif op is _C.IN and len(av) <= 4 and all(o is _C.LITERAL for o, _ in av):
            sub = [(chr(v), True) for _, v in av]
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and av[0] == 0 and av[1] == 1:
            sub = [("", True), *_seq_prefixes(list(av[2]))]
        if sub is None:
            outs = [(p, False) for p, _ in outs]
            break
        new: list[tuple[str, bool]] = []
        for p, done in outs:
            if not done:
                new.append((p, done))
                continue
            new.extend((p + sp, sd) for sp, sd in sub)
        outs = new
        if len(outs) > 512:
            outs = [(p, False) for p, _ in outs]
            break
    return outs


def _anchors(source: str) -> frozenset[str]:
    """The literal prefixes every match starts with (each as long as the syntax tree allows),
    without those another anchor of the rule is a prefix of; empty if some match has no
    literal prefix. Longer anchors mean fewer places where the rule is tried at all."""
    prefixes = {p for p, _ in _seq_prefixes(list(_parser.parse(source)))}
    if not prefixes or "" in prefixes:
        return frozenset()
    return frozenset(p for p in prefixes if not any(q != p and p.startswith(q) for q in prefixes))


REQUIRED_MIN = 4  # a required-literal set is used only if each literal has this many characters
REQUIRED_KEEP = 8  # required literals are cut to this many characters (a prefix is required too)


def _required_seq(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """A set of literals one of which every match of the sequence contains (of the candidates,
    the one whose shortest literal is longest), or None."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is _C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset({"".join(run)}))
            run = []
        sub = _required_node(op, av)
        if sub is not None:
            candidates.append(sub)
    if run:
        candidates.append(frozenset({"".join(run)}))
    return max(candidates, key=_required_score, default=None)


def _required_node(op: Any, av: Any) -> frozenset[str] | None:
    if op is _C.SUBPATTERN:
        return _required_seq(list(av[3]))
    if op is _C.ATOMIC_GROUP:
        return _required_seq(list(av))
    if op is _C.BRANCH:
        subs = [_required_seq(list(branch)) for branch in av[1]]
        if any(sub is None for sub in subs):
            return None
        return frozenset().union(*[sub for sub in subs if sub is not None])
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _required_seq(list(av[2]))
    return None  # classes, categories, assertions, optional parts: nothing required


# Words too frequent in ordinary text to be worth tracking as required literals: a set holding
# one ranks last (it stays correct, only useless).
_COMMON_WORDS = frozenset(
    "and the your you with from this that have will what when into then them they there their "
    "been were more some other about which would could should also only just like than over "
    "after before here make many most must need each such very well even back used using time "
    "for are not but all any can as of to in on at is it be or by an a".split()
)


def _required_score(literals: frozenset[str]) -> tuple[int, int, int]:
    common = any(lit.strip(" '") in _COMMON_WORDS for lit in literals)
    return (0 if common else 1), min(len(lit) for lit in literals), -len(literals)


def _required(source: str) -> frozenset[str]:
    """Literals one of which every match holds after its first top-level part (the anchor), cut
    to ``REQUIRED_KEEP``; empty when no set has literals of ``REQUIRED_MIN`` characters."""
    items = list(_parser.parse(source))
    rest = items[1:]
    while rest and items[0][0] is _C.LITERAL and rest[0][0] is _C.LITERAL:  # rest of a literal start
        rest = rest[1:]
    found = _required_seq(rest)
    if found is None or _required_score(found)[:2] < (1, REQUIRED_MIN):
        return frozenset()
    return frozenset(lit[:REQUIRED_KEEP] for lit in found)


def _top_level_alternatives(source: str) -> list[str]:
    """Split a regex source at ``|`` outside groups and classes."""
    parts: list[str] = []
    depth = 0
    in_class = False
    start = 0
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if source[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    parts.append(source[start:])
    return parts


LANGUAGES = ("en", *_LANG)


# --- byte-level prefilters (the hyperscan engine) -------------------------------------------
# A rule's prefilter is a regex over the UTF-8 bytes of the folded text that matches wherever
# the rule matches (it may match more; the classifier confirms every hit with the rule itself).
# Written from the syntax tree, reversed on request: scanning the reversed text with the
# reversed prefilter reports, as match ends, every offset where a rule match can *start*.
# Category escapes (\w, \W, \s, \S, \d, \D) are exact on ASCII; a class that can hold any
# non-ASCII character admits any non-ASCII character (1-4 bytes >= 0x80), so no difference
# between Python's Unicode tables and another engine's can lose a match. \b and lookarounds
# are dropped (a weaker condition), laziness and possessiveness are ignored (the same or more
# strings match), and ``{m,n}`` keeps its counts (each repeated part maps to its byte form).
_ANY_HIGH = r"[\x80-\xff]{1,4}"
_LONG_REPEAT = 64  # longer bounded repeats are made unbounded (cheaper to compile)


def _byte_escape(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def _class_bytes(items: list[tuple[Any, Any]]) -> tuple[set[int], list[str], bool]:
    """(ASCII members, non-ASCII literal members, admits any non-ASCII) of a ``[...]`` class."""
    negate = bool(items) and items[0][0] is _C.NEGATE
    if negate:
        items = items[1:]
    probe = re.compile(f"[{_class_source(items)}]")
    ascii_members = {b for b in range(128) if probe.match(chr(b))}
    high: list[str] = []
    any_high = False
    for op, av in items:
        if op is _C.CATEGORY:
            any_high = True
        elif op is _C.LITERAL and av >= 0x80:
            high.append(chr(av))
        elif op is _C.RANGE and av[1] >= 0x80:
            any_high = True
    if negate:
        ascii_members = set(range(128)) - ascii_members
        any_high = True  # a negated class admits some non-ASCII character
    return ascii_members, high, any_high


def _class_source(items: list[tuple[Any, Any]]) -> str:
    parts = []
    for op, av in items:
        if op is _C.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op is _C.RANGE:
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is _C.CATEGORY:
            parts.append(_CATEGORY_SOURCE[av])
        else:
            raise ValueError(f"class item {op} not supported by the prefilter")
    return "".join(parts)


_CATEGORY_SOURCE = {
    _C.CATEGORY_WORD: r"\w", _C.CATEGORY_NOT_WORD: r"\W", _C.CATEGORY_SPACE: r"\s",
    _C.CATEGORY_NOT_SPACE: r"\S", _C.CATEGORY_DIGIT: r"\d", _C.CATEGORY_NOT_DIGIT: r"\D",
}


def _char_set(ascii_members: set[int], high: list[str], any_high: bool, reverse: bool) -> str:
    options = []
    if ascii_members:
        options.append("[" + "".join(f"\\x{b:02x}" for b in sorted(ascii_members)) + "]")
    if any_high:
        options.append(_ANY_HIGH)
    else:
        for ch in high:
            data = ch.encode("utf-8")
            options.append(_byte_escape(data[::-1] if reverse else data))
    if not options:
        return "[^\\x00-\\xff]"  # matches nothing (never produced by the rule table)
    return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"


def _prefilter_seq(items: list[tuple[Any, Any]], reverse: bool) -> str:
    parts = [_prefilter_node(op, av, reverse) for op, av in items]
    return "".join(reversed(parts) if reverse else parts)


def _prefilter_node(op: Any, av: Any, reverse: bool) -> str:
    if op is _C.LITERAL:
        data = chr(av).encode("utf-8", "surrogatepass")
        return "(?:" + _byte_escape(data[::-1] if reverse else data) + ")" if len(data) > 1 else _byte_escape(data)
    if op is _C.IN:
        return _char_set(*_class_bytes(list(av)), reverse)
    if op is _C.ANY:
        return _char_set(set(range(128)) - {10}, [], True, reverse)
    if op is _C.SUBPATTERN:
        return "(?:" + _prefilter_seq(list(av[3]), reverse) + ")"
    if op is _C.ATOMIC_GROUP:
        return "(?:" + _prefilter_seq(list(av), reverse) + ")"
    if op is _C.BRANCH:
        return "(?:" + "|".join(_prefilter_seq(list(branch), reverse) for branch in av[1]) + ")"
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        low, high, body = av
        body = list(body)
        if len(body) == 1 and body[0][0] is _C.IN:
            # One class repeated: its byte form is one byte class (a character is 1-4 of its
            # bytes), so m to n characters are m to 4n bytes; long bounds become unbounded.
            ascii_members, chars, any_high = _class_bytes(list(body[0][1]))
            if any_high or chars:
                high = _C.MAXREPEAT if high is _C.MAXREPEAT or high * 4 > _LONG_REPEAT else high * 4
                members = "".join(f"\\x{b:02x}" for b in sorted(ascii_members))
                bound = "" if high is _C.MAXREPEAT else str(high)
                return f"[{members}\\x80-\\xff]" + "{" + f"{low},{bound}" + "}"
        if high is not _C.MAXREPEAT and high > _LONG_REPEAT:
            high = _C.MAXREPEAT
        bound = "" if high is _C.MAXREPEAT else str(high)
        return "(?:" + _prefilter_seq(body, reverse) + "){" + f"{low},{bound}" + "}"
    if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
        if op is _C.AT and av is not _C.AT_BOUNDARY and av is not _C.AT_NON_BOUNDARY:
            raise ValueError(f"anchor {av} not supported by the prefilter")
        return ""
    raise ValueError(f"regex node {op} not supported by the prefilter")


def prefilter_source(source: str, *, reverse: bool = False, cut_weak_tail: bool = False) -> bytes:
    """A byte-level regex (for hyperscan, no UTF-8 mode) matching the UTF-8 form of every match
    of the folded rule ``source`` (see the note above); ``reverse``: the reversed strings.

    ``cut_weak_tail``: the regex covers only the rule's top-level parts up to the one holding
    its best required literals when its last part holds only short or common words (``to``,
    ``at``, ``a`` …; see :func:`_weak_tail_cut`), and only the parts before a repeated group of
    alternatives holding common words (see :func:`_common_word_repeat_cut`). A scan of the
    reversed text starts each attempt at the last part, so from uncommon words instead; the
    parts kept match a prefix of every rule match, so the same starts are reported, with a few
    more that fail the rule."""
    items = list(_parser.parse(source))
    if cut_weak_tail:
        items = items[: min(_weak_tail_cut(items), _common_word_repeat_cut(items))]
    return _prefilter_seq(items, reverse).encode("ascii")


_STRONG_MIN = 3  # a part whose literals are not common words and have this many characters


def _common_word_repeat_cut(items: list[tuple[Any, Any]]) -> int:
    """How many top-level parts of a parsed rule come before its first repeat (more than once)
    of a group of alternatives holding a common word (``(?:(?:all|the|of|…)\\W+){0,4}``), when
    the parts before it hold literals that are not common words and have ``_STRONG_MIN``
    characters; else all of them. In the reversed scan such a repeat stays active through every
    run of common words after each hit of the later parts (measured: 0.5–0.7 ms of a 100 KB
    page for the one rule that has one), while the parts before it are a cheap literal entry."""
    for index, (op, av) in enumerate(items):
        if index == 0 or op not in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            continue
        if av[1] is not _C.MAXREPEAT and av[1] < 2:
            continue
        if not _alternative_words(list(av[2])) & _COMMON_WORDS:
            continue
        strong = [_required_node(op, av) for op, av in items[:index] if op is not _C.LITERAL]
        if any(found is not None and _required_score(found)[:2] >= (1, _STRONG_MIN) for found in strong):
            return index
    return len(items)


def _alternative_words(items: list[tuple[Any, Any]]) -> set[str]:
    """The all-literal alternatives of the alternations in ``items`` (groups searched too)."""
    words: set[str] = set()
    for op, av in items:
        if op is _C.SUBPATTERN:
            words |= _alternative_words(list(av[3]))
        elif op is _C.BRANCH:
            for branch in av[1]:
                if all(item_op is _C.LITERAL for item_op, _ in branch):
                    words.add("".join(chr(code) for _, code in branch))
                else:
                    words |= _alternative_words(list(branch))
    return words


def _weak_tail_cut(items: list[tuple[Any, Any]]) -> int:
    """How many top-level parts of a parsed rule the prefilter keeps (see
    :func:`prefilter_source`): all of them unless the last part's required literals are common
    words or shorter than :data:`_STRONG_MIN` characters and some later-than-first part has
    literals that are not; then up to the best such part."""
    op, av = items[-1]
    tail = None if op is _C.LITERAL else _required_node(op, av)
    if op is _C.LITERAL or (tail is not None and _required_score(tail)[:2] >= (1, _STRONG_MIN)):
        return len(items)
    best: tuple[int, int, int] | None = None
    keep = len(items)
    for index, (op, av) in enumerate(items[1:], start=1):
        found = None if op is _C.LITERAL else _required_node(op, av)
        if found is not None and (best is None or _required_score(found) > best):
            best, keep = _required_score(found), index + 1
    return keep if best is not None and best[:2] >= (1, _STRONG_MIN) else len(items)
