"""The hand-written help-center catalogue of "Notely", a fictional note-taking app: the raw text of the
retrieval demo (:mod:`fine_tuning_assets.tasks.retrieval.demo` turns it into documents, queries and ratings).

A :class:`Feature` is one help article. A :class:`PlatformFeature` is one article per platform it covers:
the same task on iOS, Android, Windows, Mac and the web, with the platform's own steps and one tip of its
own — the "same feature, other platform" near-misses. Queries are written the way people type them into a
help-center search box: their words, not the article's (paraphrases, symptoms rather than feature names).
A platform feature's queries have a ``{dev}`` slot for how people name their device ("my iphone", "the
browser"); ``neutral`` queries name no platform (every platform's article answers them).
"""

from __future__ import annotations

from dataclasses import dataclass

PLATFORMS: tuple[str, ...] = ("iOS", "Android", "Windows", "Mac", "Web")

#: How each platform's articles name its device and its controls.
PLATFORM_UI: dict[str, dict[str, str]] = {
    "iOS": {
        "device": "iPhone or iPad",
        "act": "Tap",
        "settings": "the Settings tab (the gear at the bottom of the screen)",
        "note_menu": "the ⋯ button at the top right of the note",
        "store": "the App Store",
    },
    "Android": {
        "device": "Android phone or tablet",
        "act": "Tap",
        "settings": "the menu (☰) at the top left, then Settings",
        "note_menu": "the three-dot menu at the top right of the note",
        "store": "Google Play",
    },
    "Windows": {
        "device": "Windows PC",
        "act": "Click",
        "settings": "File > Options",
        "note_menu": "the ⋯ menu above the note (or right-click the note in the list)",
        "store": "the Microsoft Store or notely.com/download",
    },
    "Mac": {
        "device": "Mac",
        "act": "Click",
        "settings": "Notely > Settings in the menu bar (⌘,)",
        "note_menu": "the ⋯ menu above the note (or Control-click the note in the list)",
        "store": "the Mac App Store or notely.com/download",
    },
    "Web": {
        "device": "browser at app.notely.com",
        "act": "Click",
        "settings": "your profile picture at the bottom left, then Settings",
        "note_menu": "the ⋯ menu at the top of the note",
        "store": "app.notely.com (nothing to install)",
    },
}

#: How people name their device in a query (one is drawn per query).
DEVICE_WORDS: dict[str, tuple[str, ...]] = {
    "iOS": ("my iphone", "the iphone app", "my ipad", "ios"),
    "Android": ("my android phone", "my samsung", "the android app", "my pixel"),
    "Windows": ("my windows laptop", "the windows app", "my pc", "windows 11"),
    "Mac": ("my macbook", "the mac app", "my imac", "macos"),
    "Web": ("the browser", "the web version", "chrome", "the website"),
}


@dataclass(frozen=True)
class Feature:
    """One help article, the same on every platform."""

    area: str
    key: str
    title: str
    text: str
    queries: tuple[str, ...]


@dataclass(frozen=True)
class PlatformFeature:
    """One article per platform in ``tips``: ``title`` and ``text`` are templates filled with
    :data:`PLATFORM_UI` (``{platform}``, ``{device}``, ``{act}``, ``{settings}``, ``{note_menu}``,
    ``{store}``), followed by the platform's tip."""

    area: str
    key: str
    title: str
    text: str
    tips: dict[str, str]
    queries: tuple[str, ...]
    neutral: tuple[str, ...] = ()


def _f(area: str, key: str, title: str, text: str, *queries: str) -> Feature:
    return Feature(area, key, title, text, queries)


FEATURES: tuple[Feature, ...] = (
    # -- account ----------------------------------------------------------------------------------------
    _f(
        "account",
        "create-account",
        "Create a Notely account",
        "You can sign up with an email address and a password, or continue with Google or Apple. We send a "
        "confirmation link to your inbox; your account works right away, but sharing is unlocked once the "
        "address is confirmed.",
        "how do i sign up",
        "never got the confirmation email after registering",
    ),
    _f(
        "account",
        "reset-password",
        "Reset a forgotten password",
        "On the sign-in screen choose Forgot password and enter your email address. The reset link is valid "
        "for one hour. If you signed up with Google or Apple you have no Notely password: use that button "
        "to sign in instead.",
        "locked out cant remember my login",
        "reset link says expired",
    ),
    _f(
        "account",
        "change-email",
        "Change the email address of your account",
        "Open Account settings and edit Email. We send a code to the new address; the change takes effect "
        "when you enter it. Your notes, notebooks and subscription stay with the account.",
        "i have a new work address how do i update it",
    ),
    _f(
        "account",
        "delete-account",
        "Delete your Notely account",
        "Account settings > Delete account removes your notes, notebooks and attachments after a 14-day grace "
        "period, during which signing in again cancels the deletion. Cancel any subscription bought through "
        "an app store separately.",
        "i want all my data gone permanently",
        "close my account for good",
    ),
    _f(
        "account",
        "sign-in-apple-google",
        "Sign in with Google or Apple",
        "Continue with Google or Continue with Apple links your Notely account to that identity. If you used "
        "Hide My Email with Apple, Notely sees a relay address; add a password in Account settings to sign "
        "in with email as well.",
        "can i log in using my gmail instead of a password",
    ),
    # -- sync -------------------------------------------------------------------------------------------
    _f(
        "sync",
        "sync-conflicts",
        "Resolve conflicting changes",
        "When the same note is edited on two devices while one of them is offline, Notely keeps both: the "
        "second copy is saved as 'Conflicting changes' next to the original. Compare them, copy what you "
        "need, then delete the copy.",
        "there is a duplicate note called conflicting changes",
        "edited on two computers and now i have two versions",
    ),
    _f(
        "sync",
        "sync-status",
        "What the sync icon means",
        "The cloud icon in the sidebar shows the sync state: a check mark means everything is saved to the "
        "server, arrows mean changes are uploading, and a red exclamation mark means the last attempt failed "
        "— hover or long-press it to see why. A grey cloud means you are offline.",
        "red exclamation mark next to the cloud",
        "how can i tell my edits are saved online",
    ),
    # -- notebooks --------------------------------------------------------------------------------------
    _f(
        "notebooks",
        "create-notebook",
        "Create and rename notebooks",
        "Notebooks group notes. Choose New notebook in the sidebar, give it a name, and drag notes into it. "
        "Rename a notebook from its context menu; notes keep their links when a notebook is renamed.",
        "how do i make folders for my notes",
    ),
    _f(
        "notebooks",
        "notebook-stacks",
        "Group notebooks into stacks",
        "Drag one notebook onto another to make a stack, a second level of organisation (e.g. a 'Work' stack "
        "with one notebook per project). Stacks cannot be nested further.",
        "can notebooks have sub folders",
        "put several notebooks under one heading",
    ),
    _f(
        "notebooks",
        "default-notebook",
        "Choose the default notebook",
        "New notes, clipped pages and emailed notes go to the default notebook. Set it from a notebook's "
        "context menu with Make default; there is always exactly one.",
        "new notes keep landing in the wrong notebook",
    ),
    _f(
        "notebooks",
        "delete-notebook",
        "Delete a notebook",
        "Deleting a notebook moves its notes to the trash, where they stay for 30 days. To keep the notes, "
        "move them to another notebook first; the default notebook cannot be deleted until another one is "
        "made default.",
        "remove a folder without losing the notes inside",
    ),
    # -- editor -----------------------------------------------------------------------------------------
    _f(
        "editor",
        "formatting",
        "Format text: headings, bold, lists",
        "Select text to show the formatting bar: headings, bold, italic, highlight, bulleted and numbered "
        "lists. Clear formatting removes everything pasted from other apps.",
        "pasted text from a website looks weird how do i make it plain",
        "make a title bigger in a note",
    ),
    _f(
        "editor",
        "checklists",
        "Checklists",
        "Type [] followed by a space to start a checklist, or use the checkbox button. Checked items can be "
        "moved to the bottom automatically (Editor settings > Move checked items down).",
        "how to make a to do list with tick boxes",
        "ticked items should go to the bottom",
    ),
    _f(
        "editor",
        "tables",
        "Insert and edit tables",
        "Insert > Table adds a 3×3 table. Tab moves to the next cell and adds a row at the end; right-click "
        "a cell to add or remove rows and columns, or to merge cells.",
        "put data in rows and columns inside a note",
    ),
    _f(
        "editor",
        "code-blocks",
        "Code blocks with syntax highlighting",
        "Type ``` and a space to insert a code block, then pick the language at its top right for "
        "highlighting. Code blocks keep tabs and spacing exactly, and Copy copies the code without "
        "formatting.",
        "paste a python snippet so the indentation stays",
    ),
    _f(
        "editor",
        "markdown",
        "Markdown shortcuts",
        "The editor understands Markdown as you type: # for headings, * or - for bullets, ** for bold, > for "
        "quotes. Notes are not stored as Markdown; export a note as Markdown to get the file.",
        "does it support markdown syntax",
        "typing a hash turns my line into a heading",
    ),
    _f(
        "editor",
        "note-links",
        "Link notes to each other",
        "Type [[ and start typing a note's title to link to it. The linked note lists its backlinks at the "
        "bottom, so you can follow a topic in both directions.",
        "reference another page from inside a note like a wiki",
    ),
    # -- tags -------------------------------------------------------------------------------------------
    _f(
        "tags",
        "add-tags",
        "Add tags to notes",
        "Tags cut across notebooks. Add them in the tag bar under the note title, or type # in the title "
        "line. A note can carry any number of tags.",
        "label notes that live in different folders",
    ),
    _f(
        "tags",
        "rename-merge-tags",
        "Rename or merge tags",
        "In the Tags list, rename a tag from its context menu; renaming it to the name of another tag merges "
        "the two and keeps every note tagged. Deleting a tag removes it from notes but never deletes the notes.",
        "i have recipe and recipes as two tags combine them",
    ),
    _f(
        "tags",
        "filter-by-tag",
        "Filter notes by tag",
        "Click a tag in the sidebar to show only its notes; hold Shift to add more tags (notes with all of "
        "them) or choose Any to see notes with at least one. The filter stays until you clear it.",
        "show only notes that have two labels at once",
    ),
    # -- search -----------------------------------------------------------------------------------------
    _f(
        "search",
        "search-syntax",
        "Search operators",
        "Search matches words in titles, text and tags. Use quotes for an exact phrase, tag:name, "
        "notebook:name, created:2026-01 and -word to exclude a word. Operators can be combined.",
        "find notes from last january that mention invoices",
        "exclude a word when looking something up",
    ),
    _f(
        "search",
        "search-images",
        "Search text inside images and PDFs",
        "Notely reads the text in attached images, scans and PDFs (OCR) after upload, usually within a few "
        "minutes. Handwriting is recognised in English, German, French and Spanish.",
        "can it find words in a photo of a whiteboard",
    ),
    _f(
        "search",
        "saved-searches",
        "Save a search",
        "After searching, choose Save search to keep it in the sidebar. A saved search is re-run every time "
        "you open it, so new matching notes appear there automatically.",
        "keep a search i run every week",
    ),
    _f(
        "search",
        "search-missing-notes",
        "Search does not find a note",
        "New notes are searchable after they sync. Attachments are searchable only once OCR has finished, "
        "and notes in the trash are left out unless you search the trash. Check the notebook filter above "
        "the results too.",
        "i know the note exists but searching for it shows nothing",
    ),
    # -- attachments ------------------------------------------------------------------------------------
    _f(
        "attachments",
        "attachment-limits",
        "Attachment size limits",
        "Each attachment can be up to 25 MB on the Free plan and 200 MB on Pro. Larger files are refused "
        "with a message; compress them or link to them from cloud storage instead.",
        "video too big to add",
        "whats the biggest file i can upload",
    ),
    _f(
        "attachments",
        "annotate-pdf",
        "Annotate PDFs",
        "Open an attached PDF and choose Annotate to highlight, underline and add comments. Annotations are "
        "saved in a copy next to the original, so the original file stays untouched.",
        "highlight lines in a pdf i attached",
    ),
    # -- sharing ----------------------------------------------------------------------------------------
    _f(
        "sharing",
        "share-link",
        "Share a note with a public link",
        "Share > Copy link creates a read-only web page of the note that anyone with the link can open, "
        "without an account. Turn the link off at any time; the page disappears immediately.",
        "send a note to someone who doesnt use the app",
    ),
    _f(
        "sharing",
        "invite-collaborators",
        "Invite people to edit a note or notebook",
        "Share > Invite sends an email invitation. Invited people need a Notely account (Free is enough) and "
        "see the shared note or notebook under Shared with me.",
        "work on the same notes with my coworker",
        "my friend cant see the notebook i shared",
    ),
    _f(
        "sharing",
        "permissions",
        "Permissions: can view, can edit, can share",
        "Each person you invite gets one of three roles. Can view reads only; can edit changes content; can "
        "share also invites others. Change a role in the share dialog next to their name.",
        "stop someone from changing my shared notebook but let them read it",
    ),
    _f(
        "sharing",
        "stop-sharing",
        "Stop sharing",
        "In the share dialog remove a person, or turn off the public link. Removed people lose access right "
        "away; copies they exported before are not affected.",
        "take away access from a former colleague",
    ),
    _f(
        "sharing",
        "comments",
        "Comment on shared notes",
        "Select text in a shared note and choose Comment. Mention someone with @ to notify them; resolved "
        "comments are kept in the comment history.",
        "leave feedback on part of a shared note",
    ),
    # -- import / export --------------------------------------------------------------------------------
    _f(
        "import-export",
        "import-evernote",
        "Import from Evernote",
        "Export your notebooks from Evernote as .enex files, then choose File > Import > Evernote in Notely "
        "on a computer or the web. Tags, attachments and creation dates are kept; each file becomes a "
        "notebook.",
        "moving over from evernote",
        "bring my old notes from another app",
    ),
    _f(
        "import-export",
        "import-markdown",
        "Import Markdown and text files",
        "File > Import > Markdown accepts .md and .txt files or a whole folder; each file becomes a note and "
        "subfolders become notebooks. Images referenced with relative paths are attached.",
        "i have a folder of md files from obsidian",
    ),
    _f(
        "import-export",
        "export-everything",
        "Download a copy of all your data",
        "Account settings > Export all data prepares a ZIP with every note as HTML and Markdown plus all "
        "attachments. We email a download link when it is ready; large accounts can take an hour.",
        "back up everything i have in one go",
        "get a zip of my whole account",
    ),
    # -- reminders --------------------------------------------------------------------------------------
    _f(
        "reminders",
        "daily-digest",
        "The daily digest email",
        "The digest lists today's reminders and tasks due, sent at 7 am in your time zone. Turn it on or off "
        "and change the time in Notifications settings.",
        "stop the morning email summary",
    ),
    # -- web clipper ------------------------------------------------------------------------------------
    _f(
        "web-clipper",
        "install-clipper",
        "Install the web clipper",
        "The clipper is a browser extension for Chrome, Edge, Firefox and Safari. Install it from "
        "notely.com/clipper and sign in once; the Notely button then appears in the toolbar.",
        "save websites to my notes from chrome",
    ),
    _f(
        "web-clipper",
        "clip-formats",
        "Clip a full page, an article or a screenshot",
        "Article keeps the readable text and images without ads; Full page keeps the layout; Screenshot "
        "captures a region you drag; Bookmark saves only the link and a summary. Pick the notebook and tags "
        "before saving.",
        "save just the text of a news story without the ads",
    ),
    _f(
        "web-clipper",
        "clipper-troubleshooting",
        "The web clipper does not work",
        "If the clipper button is greyed out the page may block extensions (e.g. PDF viewers or the browser's "
        "own settings pages). Sign out of the clipper and in again, and check that third-party cookies are "
        "allowed for notely.com.",
        "extension button does nothing when i click it",
    ),
    # -- templates --------------------------------------------------------------------------------------
    _f(
        "templates",
        "use-template",
        "Start a note from a template",
        "New note > From template offers meeting notes, project plans, journals and more. The note is a copy; "
        "changing it never changes the template.",
        "ready made layout for meeting minutes",
    ),
    _f(
        "templates",
        "create-template",
        "Save your own template",
        "Open a note and choose Save as template from the note menu. Your templates appear under My "
        "templates and can be shared with a workspace on the Teams plan.",
        "reuse the same structure for every weekly report",
    ),
    # -- tasks ------------------------------------------------------------------------------------------
    _f(
        "tasks",
        "task-due-dates",
        "Tasks with due dates",
        "Turn any checklist item into a task with the clock button: give it a due date and, optionally, an "
        "assignee. Tasks due today show in the Tasks view and the daily digest.",
        "give a to do item a deadline",
    ),
    _f(
        "tasks",
        "recurring-tasks",
        "Repeating tasks",
        "In a task's details set Repeat to daily, weekly, monthly or a custom rule. When you complete it, "
        "the next occurrence is created with the next due date.",
        "water the plants every tuesday how do i make it come back",
    ),
    _f(
        "tasks",
        "tasks-view",
        "See all your tasks in one place",
        "The Tasks view in the sidebar collects tasks from every note, grouped by due date. Filter by "
        "notebook or assignee, and check a task off without opening its note.",
        "list of everything i need to do across all notes",
    ),
    # -- billing ----------------------------------------------------------------------------------------
    _f(
        "billing",
        "refunds",
        "Refunds",
        "Subscriptions bought on the web can be refunded within 14 days from Account settings > Billing. "
        "Purchases made through the App Store or Google Play are refunded by Apple or Google under their "
        "rules.",
        "charged by mistake want my money back",
    ),
    _f(
        "billing",
        "student-discount",
        "Student and teacher discount",
        "Students and teachers get 50% off Pro for a year. Verify with a school email address at "
        "notely.com/education; the discount renews each year while the address stays valid.",
        "is there a cheaper price for university",
    ),
    _f(
        "billing",
        "payment-method",
        "Change your payment method",
        "For web subscriptions, update the card or PayPal account in Account settings > Billing. The next "
        "charge uses the new method; a failed payment is retried for 7 days before Pro ends.",
        "my card expired how do i put a new one",
    ),
    _f(
        "billing",
        "invoices",
        "Download invoices",
        "Account settings > Billing > Invoices lists every web payment with a PDF invoice. Add a company name "
        "and VAT number before the payment for them to appear on the invoice.",
        "need a receipt with my company vat number",
    ),
    _f(
        "billing",
        "plans-compared",
        "Free, Pro and Teams compared",
        "Free syncs two devices with 60 MB of uploads a month. Pro removes the device limit, gives 10 GB of "
        "uploads, OCR and version history. Teams adds shared workspaces, admin controls and single sign-on.",
        "what do i get if i pay",
        "difference between the paid plans",
    ),
    # -- security ---------------------------------------------------------------------------------------
    _f(
        "security",
        "two-factor",
        "Two-step verification",
        "Turn on two-step verification in Account settings > Security. Notely then asks for a code from an "
        "authenticator app when you sign in on a new device; keep the backup codes somewhere safe.",
        "extra login protection with an authenticator app",
        "lost my phone and cant get the 6 digit code",
    ),
    _f(
        "security",
        "sessions",
        "Sign out of other devices",
        "Account settings > Security lists every device signed in to your account. Sign out one device, or "
        "all of them at once, e.g. after losing a laptop.",
        "i left myself logged in on a library computer",
    ),
    _f(
        "security",
        "encryption",
        "How Notely protects your data",
        "Notes are encrypted in transit (TLS 1.3) and at rest (AES-256) in data centres in the EU and the US; "
        "Notely staff cannot read notes without your permission for a support case. Our security report is at "
        "notely.com/security.",
        "can your employees read my stuff",
        "is my data encrypted",
    ),
    # -- installation -----------------------------------------------------------------------------------
    _f(
        "installation",
        "system-requirements",
        "System requirements",
        "Notely runs on iOS 16 or later, Android 10 or later, Windows 10 or 11 (64-bit), macOS 13 or later, "
        "and the latest two versions of Chrome, Edge, Firefox and Safari. Older versions keep working but get no "
        "updates.",
        "will it work on an old ipad with ios 15",
        "which windows versions are supported",
    ),
    _f(
        "installation",
        "beta-program",
        "Join the beta",
        "Beta builds get new features a few weeks early. Join from Settings > About > Beta; on iOS the beta "
        "runs through TestFlight. Leave at any time by reinstalling the regular app.",
        "try new stuff before it is released",
    ),
    # -- widgets & shortcuts ----------------------------------------------------------------------------
    _f(
        "shortcuts",
        "siri-shortcuts",
        "Siri and Shortcuts",
        "On iPhone, iPad and Mac, the Shortcuts app offers Notely actions: create a note, append to a note, "
        "find notes. Say 'Hey Siri, new Notely note' to dictate one.",
        "dictate a note hands free while driving",
    ),
    _f(
        "shortcuts",
        "email-to-notely",
        "Email notes into Notely",
        "Forward an email to your personal address (Account settings > Email to Notely) and it becomes a "
        "note in the default notebook. Add @notebook or #tag to the subject to file it.",
        "forward messages from outlook into my notes",
    ),
    # -- handwriting ------------------------------------------------------------------------------------
    _f(
        "handwriting",
        "handwriting-recognition",
        "Handwriting recognition",
        "Handwritten notes and sketches are read by OCR so that search finds them. Recognition works best "
        "with dark ink on a light background and supports English, German, French and Spanish.",
        "will search find what i wrote with a pen",
    ),
    _f(
        "handwriting",
        "convert-handwriting",
        "Convert handwriting to text",
        "Select handwriting and choose Convert to text to replace it with typed text you can edit. The "
        "original ink is kept in the note's version history.",
        "turn my scribbles into typed words",
    ),
    # -- trash & history --------------------------------------------------------------------------------
    _f(
        "trash-history",
        "recover-deleted",
        "Recover a deleted note",
        "Deleted notes stay in the trash for 30 days. Open Trash in the sidebar, select the note and choose "
        "Restore; it returns to its notebook (or to the default notebook if that one is gone).",
        "accidentally removed a note can i get it back",
        "deleted something by mistake yesterday",
    ),
    _f(
        "trash-history",
        "empty-trash",
        "Empty the trash",
        "Empty trash deletes every note in it for good; notes older than 30 days are removed automatically. "
        "Shared notes you delete are removed for you only.",
        "permanently get rid of notes in the bin",
    ),
    _f(
        "trash-history",
        "version-history",
        "Note history: see and restore earlier versions",
        "Pro keeps a version of each note every time it is saved, for a year. Open the note menu > History, "
        "pick a version to preview it and choose Restore to go back to it.",
        "undo changes someone made to my note last week",
        "go back to how the page looked before",
    ),
    # -- teams & admin ----------------------------------------------------------------------------------
    _f(
        "teams",
        "create-workspace",
        "Create a team workspace",
        "A workspace holds notebooks your whole team can see. Create one with New workspace on the Teams "
        "plan, invite members by email, and move existing notebooks into it.",
        "set up a shared space for my company",
    ),
    _f(
        "teams",
        "manage-members",
        "Add and remove workspace members",
        "Workspace admins manage members in Workspace settings > Members. Removing a member transfers their "
        "workspace notebooks to an admin; their personal notebooks stay theirs.",
        "someone left the team what happens to their notes",
    ),
    _f(
        "teams",
        "single-sign-on",
        "Single sign-on (SAML)",
        "Teams admins can require sign-in through Okta, Azure AD or any SAML 2.0 provider in Workspace "
        "settings > Security. Members then sign in with their company account.",
        "log in with our okta accounts",
    ),
    _f(
        "teams",
        "audit-log",
        "Audit log",
        "The audit log lists sign-ins, sharing changes, exports and deletions in a workspace for 180 days. "
        "Admins can filter it and download it as CSV.",
        "see who exported a notebook in our company",
    ),
    _f(
        "tags",
        "tag-suggestions",
        "Tag suggestions",
        "While you type a tag, Notely suggests the tags you already use, most used first, so that 'Recipe' "
        "and 'recipes' do not end up side by side. Turn suggestions off in Editor settings.",
        "stop creating almost identical labels by accident",
    ),
    _f(
        "templates",
        "template-gallery",
        "Template gallery for teams",
        "On the Teams plan, admins can publish templates to everyone in a workspace from Workspace settings "
        "> Templates; members find them under Team templates when they start a new note. Editing a published "
        "template updates it for everyone.",
        "make everyone in my company use the same meeting format",
    ),
    _f(
        "trash-history",
        "restore-notebook",
        "Restore a deleted notebook",
        "A deleted notebook's notes are in the trash for 30 days. Select them in Trash and choose Restore: "
        "Notely recreates the notebook with its old name and puts them back in it.",
        "i deleted a whole folder by accident",
    ),
    # -- integrations -----------------------------------------------------------------------------------
    _f(
        "integrations",
        "google-drive",
        "Google Drive and OneDrive",
        "Insert > Cloud file links a Drive or OneDrive file into a note with a live preview, without "
        "uploading it. The link follows the file's own sharing settings.",
        "add a google doc to a note without uploading it",
    ),
    _f(
        "integrations",
        "slack",
        "Slack integration",
        "Connect Slack in Settings > Integrations to save any Slack message to Notely with the message "
        "shortcut, and to preview shared Notely links in channels. A workspace admin may need to approve the app.",
        "save a message from a chat channel into my notes",
    ),
    _f(
        "integrations",
        "calendar",
        "Calendar integration",
        "Connect Google Calendar or Outlook to see today's meetings in Notely and start meeting notes with "
        "the attendees and agenda filled in. Notely only reads event titles, times and attendees.",
        "create notes for my meetings automatically from outlook",
    ),
    _f(
        "integrations",
        "zapier",
        "Zapier and the API",
        "Zapier connects Notely to thousands of apps (e.g. a note for every new form response). Developers "
        "can use the REST API with a personal token from Settings > Integrations > API.",
        "automate creating notes from google forms",
    ),
    # -- appearance -------------------------------------------------------------------------------------
    _f(
        "appearance",
        "app-language",
        "Change the app language",
        "Notely follows your system language. On the web and on computers you can override it in Settings > "
        "General > Language; spell-check languages are set separately.",
        "the menus are in german but i want english",
    ),
    # -- storage & limits -------------------------------------------------------------------------------
    _f(
        "limits",
        "upload-quota",
        "Monthly upload limit",
        "Free accounts can upload 60 MB a month, Pro accounts 10 GB. Text counts too but is tiny; images and "
        "PDFs use most of it. The allowance resets on the first of each month.",
        "it says i reached my limit for this month",
    ),
    _f(
        "limits",
        "device-limit",
        "Device limit on the Free plan",
        "A Free account syncs on two devices. Signing in on a third asks you to sign out one of the others "
        "(manage them in Account settings > Security) or to upgrade to Pro for unlimited devices.",
        "cant log in on my third device",
    ),
    _f(
        "limits",
        "note-size",
        "Maximum note size",
        "A single note can hold up to 100 MB including attachments on Pro (25 MB on Free). Split very long "
        "notes into several linked notes to keep them fast.",
        "note has become really slow and huge",
    ),
)


def _pf(
    area: str,
    key: str,
    title: str,
    text: str,
    tips: dict[str, str],
    queries: tuple[str, ...],
    neutral: tuple[str, ...] = (),
) -> PlatformFeature:
    return PlatformFeature(area, key, title, text, tips, queries, neutral)


PLATFORM_FEATURES: tuple[PlatformFeature, ...] = (
    _pf(
        "sync",
        "sync-troubleshooting",
        "Fix sync problems on {platform}",
        "If notes you wrote elsewhere do not appear on your {device}, Notely could not reach its servers. "
        "Check your connection, then {act_lower} {settings} > Sync > Sync now.",
        {
            "iOS": "Make sure Background App Refresh is on for Notely in the iOS Settings app.",
            "Android": "Battery optimisation can pause Notely: exclude it in Android Settings > Apps > Notely "
            "> Battery.",
            "Windows": "A firewall or company proxy can block sync: allow Notely.exe through it.",
            "Mac": "If Notely was moved out of Applications, move it back and reopen it.",
            "Web": "The web app syncs while the tab is open; reload the page if the cloud icon stays grey.",
        },
        (
            "notes i wrote on my laptop dont show up on {dev}",
            "{dev} keeps showing an old version of my notes",
        ),
        ("my notes are not updating between devices",),
    ),
    _pf(
        "sync",
        "offline-mode",
        "Use Notely offline on {platform}",
        "Notes you have opened recently are available without a connection on your {device}. To keep whole "
        "notebooks offline, {act_lower} {settings} > Offline and choose the notebooks; changes sync when you "
        "are back online.",
        {
            "iOS": "Offline notebooks count against your iPhone's storage; see it in Settings > Storage.",
            "Android": "Offline notebooks can be stored on an SD card (Settings > Offline > Location).",
            "Windows": "On Windows every notebook is available offline by default.",
            "Mac": "On a Mac every notebook is available offline by default.",
            "Web": "In the browser, offline access needs Chrome or Edge and the 'Work offline' switch.",
        },
        ("read my notes on a plane with {dev}", "no wifi on {dev} can i still open notes"),
        ("access notes without internet",),
    ),
    _pf(
        "attachments",
        "attach-files",
        "Attach files on {platform}",
        "Add a PDF, image, audio recording or any other file to a note on your {device}: {act_lower} the "
        "paperclip in the toolbar and pick the file. Attachments sync with the note.",
        {
            "iOS": "You can also share a file from the Files app to Notely.",
            "Android": "You can also share a file to Notely from any app's Share menu.",
            "Windows": "You can also drag files from File Explorer into the note.",
            "Mac": "You can also drag files from the Finder into the note.",
            "Web": "You can also drag files from your desktop into the browser window.",
        },
        ("put a pdf into a note on {dev}", "how do i add a picture to a note in {dev}"),
    ),
    _pf(
        "attachments",
        "scan-documents",
        "Scan paper documents on {platform}",
        "Use your {device}'s camera to scan receipts, whiteboards and paper notes: {act_lower} + > Scan. "
        "Notely straightens the page, removes shadows and makes the text searchable.",
        {
            "iOS": "Hold the iPhone above the page; it captures automatically when the edges are steady.",
            "Android": "Tap the shutter when the blue frame matches the page; add more pages before saving.",
        },
        ("turn a paper receipt into a note with {dev}", "take a photo of a document with {dev} and keep it"),
        ("digitize my paper notebook",),
    ),
    _pf(
        "import-export",
        "export-pdf",
        "Export a note as PDF on {platform}",
        "To save or send a note as a PDF on your {device}, open {note_menu} and choose Export > PDF. "
        "Attachments are listed at the end; images are included in the page.",
        {
            "iOS": "The PDF opens in the share sheet: save it to Files or send it straight away.",
            "Android": "The PDF is saved to Downloads and can be shared from the notification.",
            "Windows": "Choose where to save the file; 'Microsoft Print to PDF' is not needed.",
            "Mac": "You can also use File > Export as PDF (⌘P then PDF).",
            "Web": "The PDF is downloaded by the browser to your downloads folder.",
        },
        ("save a note as a pdf from {dev}", "send my notes as a document to my teacher from {dev}"),
        ("turn a note into a pdf file",),
    ),
    _pf(
        "import-export",
        "print-notes",
        "Print notes on {platform}",
        "To print a note from your {device}, open {note_menu} and choose Print. Print only the selection or "
        "several notes at once by selecting them in the note list first.",
        {
            "iOS": "Printing uses AirPrint; your printer must be on the same Wi-Fi network.",
            "Android": "Printing uses the Android print service of your printer's maker.",
            "Windows": "Ctrl+P opens the print dialog directly.",
            "Mac": "⌘P opens the print dialog directly.",
            "Web": "The browser's print dialog opens; turn off headers and footers there.",
        },
        ("get a paper copy of my shopping list from {dev}",),
    ),
    _pf(
        "reminders",
        "set-reminder",
        "Set a reminder on {platform}",
        "Open a note on your {device} and {act_lower} the bell icon to choose a date and time. You are "
        "notified at that time even when Notely is closed, and the note moves to the top of Reminders.",
        {
            "iOS": "Allow Notely's notifications in the iOS Settings app, or reminders arrive silently.",
            "Android": "On Android 13 and later, allow the 'Alarms & reminders' permission for exact times.",
            "Windows": "Reminders appear in the Windows notification centre.",
            "Mac": "Reminders appear in the macOS Notification Centre.",
            "Web": "The browser must allow notifications from app.notely.com, and a Notely tab must be open.",
        },
        ("get pinged about a note tomorrow at 9 on {dev}", "{dev} alert me at a certain time for a note"),
        ("how to be reminded of a note later",),
    ),
    _pf(
        "reminders",
        "notification-settings",
        "Notification settings on {platform}",
        "Choose which notifications Notely sends to your {device} — reminders, comments, mentions, shared "
        "notebook changes — in {settings} > Notifications.",
        {
            "iOS": "Focus modes can hold back notifications; add Notely to the allowed apps.",
            "Android": "Each kind of notification is a channel you can also silence in Android Settings.",
            "Windows": "Do not disturb in Windows hides Notely's banners until you turn it off.",
            "Mac": "Check System Settings > Notifications > Notely if banners never appear.",
            "Web": "Browser notifications need permission; click the lock icon next to the address.",
        },
        ("too many pop ups from notely on {dev}", "{dev} never alerts me when someone comments"),
    ),
    _pf(
        "billing",
        "upgrade-pro",
        "Upgrade to Pro on {platform}",
        "Upgrade from your {device}: {act_lower} {settings} > Account > Upgrade. Pro is billed monthly or "
        "yearly and unlocks every device, 10 GB of uploads and version history.",
        {
            "iOS": "Purchases on iPhone and iPad are billed by Apple through your Apple ID.",
            "Android": "Purchases on Android are billed by Google Play.",
            "Web": "On the web you pay by card or PayPal and can download invoices.",
        },
        ("pay for premium through {dev}", "buy the full version on {dev}"),
        ("how do i upgrade my account",),
    ),
    _pf(
        "billing",
        "cancel-subscription",
        "Cancel a Pro subscription bought on {platform}",
        "Cancelling stops the next renewal; Pro stays active until the end of the period you paid for, then "
        "your account becomes Free without losing notes.",
        {
            "iOS": "Subscriptions bought on iPhone are cancelled in iOS Settings > your name > Subscriptions.",
            "Android": "Subscriptions bought on Android are cancelled in Google Play > Payments & "
            "subscriptions.",
            "Web": "Subscriptions bought on the web are cancelled in Account settings > Billing > Cancel.",
        },
        ("stop paying for notely i signed up on {dev}", "end my monthly plan that i bought on {dev}"),
        ("how do i unsubscribe",),
    ),
    _pf(
        "security",
        "lock-notes",
        "Lock the app with a passcode on {platform}",
        "Require a passcode to open Notely on your {device}: {act_lower} {settings} > Security > App lock. "
        "The lock applies after the app has been in the background for the time you choose.",
        {
            "iOS": "Face ID or Touch ID can unlock the app instead of the passcode.",
            "Android": "Fingerprint or face unlock can replace the PIN on supported phones.",
            "Windows": "Windows Hello can unlock the app instead of the passcode.",
            "Mac": "Touch ID can unlock the app instead of the passcode.",
            "Web": "On the web there is no app lock; sign out on shared computers instead.",
        },
        ("stop my kids from reading my diary on {dev}", "protect notely with face id or a pin on {dev}"),
    ),
    _pf(
        "installation",
        "install-app",
        "Install Notely on {platform}",
        "Get Notely for your {device} from {store}, open it and sign in with your account: your notes "
        "download automatically.",
        {
            "iOS": "The same app runs on iPhone and iPad.",
            "Android": "If Google Play is unavailable, download the APK from notely.com/android.",
            "Windows": "The installer works without admin rights; IT teams can use the MSI package.",
            "Mac": "The app is universal: it runs natively on Apple silicon and Intel Macs.",
            "Web": "Use app.notely.com in any supported browser; install it as an app from the address bar.",
        },
        ("where do i download notely for {dev}", "get the app on {dev}"),
    ),
    _pf(
        "installation",
        "update-app",
        "Update Notely on {platform}",
        "New versions bring fixes and features every two weeks. If a feature from our announcements is "
        "missing on your {device}, update from {store}.",
        {
            "iOS": "Turn on automatic updates in iOS Settings > App Store.",
            "Android": "Turn on auto-update for Notely on its Google Play page (⋮ > Enable auto update).",
            "Windows": "The Windows app checks for updates at start; Help > Check for updates forces it.",
            "Mac": "Notely > Check for Updates installs the latest version.",
        },
        ("{dev} still has the old version how do i get the new one", "{dev} doesnt have the new features"),
    ),
    _pf(
        "shortcuts",
        "home-widget",
        "Home screen widgets on {platform}",
        "Add a Notely widget to your {device}'s home screen to see pinned notes, today's tasks or a quick "
        "capture button without opening the app.",
        {
            "iOS": "Touch and hold the home screen, tap +, search for Notely and pick a size.",
            "Android": "Touch and hold the home screen, tap Widgets and drag a Notely widget into place.",
        },
        ("see my to do list without opening the app on {dev}", "put notes on the home screen of {dev}"),
    ),
    _pf(
        "shortcuts",
        "keyboard-shortcuts",
        "Keyboard shortcuts on {platform}",
        "Work faster with the keyboard. See every shortcut in Help > Keyboard shortcuts; a few favourites "
        "are new note, search and switch notebook.",
        {
            "Windows": "Ctrl+N new note, Ctrl+Shift+F search, Ctrl+J jump to notebook.",
            "Mac": "⌘N new note, ⌘⇧F search, ⌘J jump to notebook.",
            "Web": "Alt+N new note, / search, G then N jump to notebook (the browser keeps Ctrl+N).",
        },
        ("hotkey to create a new note on {dev}", "list of key combos for {dev}"),
    ),
    _pf(
        "shortcuts",
        "quick-capture",
        "Quick capture on {platform}",
        "Jot something down in two seconds: quick capture opens an empty note from anywhere on your "
        "{device} and files it in the default notebook.",
        {
            "iOS": "Use the Lock Screen widget or the Action button on iPhone 15 Pro and later.",
            "Android": "Add the Quick Settings tile: swipe down twice, tap the pencil and drag Notely in.",
            "Windows": "Press Ctrl+Alt+N anywhere; Notely can keep running in the tray for this.",
            "Mac": "Press ⌃⌥N anywhere, or use the Notely icon in the menu bar.",
            "Web": "Install the web app and use its 'New note' jump-list entry.",
        },
        ("fastest way to write down an idea on {dev}", "jot something down without opening notely on {dev}"),
    ),
    _pf(
        "handwriting",
        "sketch",
        "Draw and handwrite on {platform}",
        "Add a sketch to a note on your {device} with + > Sketch. Choose pen, highlighter or eraser; "
        "sketches are searchable once handwriting recognition has run.",
        {
            "iOS": "With an Apple Pencil, palm rejection is on and double-tap switches to the eraser.",
            "Android": "Samsung S Pen buttons switch between pen and eraser.",
            "Windows": "On touch screens and Surface devices, the pen's top button erases.",
        },
        ("write with a stylus in my notes on {dev}", "doodle a diagram in a note with {dev}"),
        ("can i draw in a note",),
    ),
    _pf(
        "appearance",
        "dark-mode",
        "Dark mode on {platform}",
        "Notely follows your {device}'s light or dark setting. To choose one for Notely only, {act_lower} "
        "{settings} > Appearance > Theme.",
        {
            "iOS": "Notes keep a white page in dark mode unless 'Dark note background' is on.",
            "Android": "On Android 9 and earlier choose Dark explicitly: there is no system setting.",
            "Windows": "Windows high-contrast themes override Notely's colours.",
            "Mac": "Choose Auto to switch with macOS at sunset.",
            "Web": "The web app follows the browser's setting, which usually follows the system.",
        },
        ("the screen is too bright at night on {dev}", "black background for notely on {dev}"),
        ("change to dark theme",),
    ),
    _pf(
        "appearance",
        "font-size",
        "Change the text size on {platform}",
        "Make note text bigger or smaller on your {device} in {settings} > Appearance > Text size; it changes "
        "how notes look to you only, not for people you share with.",
        {
            "iOS": "Notely also follows the Dynamic Type size of iOS.",
            "Android": "Notely also follows the font size of Android's display settings.",
            "Windows": "Ctrl + and Ctrl - zoom the note you are reading.",
            "Mac": "⌘+ and ⌘- zoom the note you are reading.",
            "Web": "The browser's zoom (Ctrl + / ⌘+) also works.",
        },
        ("letters are too small to read on {dev}", "make the writing bigger in {dev}"),
    ),
    _pf(
        "search",
        "search-on-device",
        "Search your notes on {platform}",
        "Find notes on your {device} with the magnifier at the top of the note list. Results "
        "update as you type, and recent searches are remembered.",
        {
            "iOS": "Notes also show up in Spotlight search on the home screen.",
            "Android": "Add the search widget to jump straight into search.",
            "Windows": "Ctrl+Shift+F searches every notebook from anywhere in the app.",
            "Mac": "Notes also show up in Spotlight (⌘ space).",
            "Web": "Press / anywhere to jump to the search box.",
        },
        ("where is the magnifying glass on {dev}",),
    ),
    _pf(
        "notebooks",
        "move-notes",
        "Move notes between notebooks on {platform}",
        "To move a note on your {device}, open {note_menu} and choose Move, then pick the notebook. Select "
        "several notes in the list to move them together.",
        {
            "iOS": "In the note list, swipe left on a note for a quick Move button.",
            "Android": "Long-press notes in the list to select several.",
            "Windows": "You can also drag notes onto a notebook in the sidebar.",
            "Mac": "You can also drag notes onto a notebook in the sidebar.",
            "Web": "Shift-click selects a range of notes in the list.",
        },
        ("put a note into a different folder on {dev}", "reorganize a bunch of notes at once on {dev}"),
    ),
    _pf(
        "sharing",
        "share-from-app",
        "Share a note from {platform}",
        "To send a note from your {device}, open {note_menu} and choose Share: invite people by email, copy "
        "a public link, or send a copy through another app.",
        {
            "iOS": "Send a copy opens the iOS share sheet (Messages, Mail, WhatsApp, ...).",
            "Android": "Send a copy opens Android's share menu.",
            "Windows": "Send a copy attaches the note to a new email in your mail app.",
            "Mac": "Send a copy uses the macOS share menu (Mail, Messages, AirDrop).",
            "Web": "On the web, Send a copy downloads the note so you can attach it.",
        },
        ("send a note to my wife over whatsapp from {dev}", "airdrop a note from {dev}"),
    ),
    _pf(
        "editor",
        "voice-notes",
        "Record audio notes on {platform}",
        "Record a lecture or a meeting into a note on your {device}: {act_lower} + > Audio. Recordings are "
        "saved as attachments and can be transcribed on Pro.",
        {
            "iOS": "Recording continues when the screen locks; a red bar shows it is running.",
            "Android": "Recording continues in the background with a notification you can stop it from.",
            "Windows": "Choose the microphone in File > Options > Audio.",
            "Mac": "Allow microphone access in System Settings > Privacy > Microphone.",
            "Web": "The browser asks for microphone permission the first time.",
        },
        ("record my professor talking on {dev}", "save a voice memo in a note on {dev}"),
        ("transcribe a meeting recording",),
    ),
    _pf(
        "account",
        "sign-out",
        "Sign out on {platform}",
        "Signing out of your {device} removes downloaded notes from it; unsynced changes are uploaded first. "
        "{act} {settings} > Account > Sign out.",
        {
            "iOS": "Deleting the app also signs you out and removes local data.",
            "Android": "Clearing the app's storage in Android Settings also signs you out.",
            "Windows": "Signing out keeps the app installed; uninstall it separately.",
            "Mac": "Signing out keeps the app installed; drag it to the Bin to remove it.",
            "Web": "Sign out on shared computers so the next person cannot open your notes.",
        },
        ("log off my account on {dev}", "switch to a different account on {dev}"),
    ),
    _pf(
        "notebooks",
        "pin-notes",
        "Pin notes to the top on {platform}",
        "Keep important notes above the others on your {device}: open {note_menu} and choose Pin. Pinned "
        "notes stay at the top of their notebook whatever the sort order.",
        {
            "iOS": "Swipe right on a note in the list to pin or unpin it.",
            "Android": "Long-press a note in the list and tap the pin icon.",
            "Windows": "Pinned notes also appear in the Windows jump list of Notely.",
            "Mac": "Pinned notes also appear in the Notely menu bar icon.",
            "Web": "Pinned notes show a pin icon in the note list.",
        },
        ("keep my grocery list always first on {dev}", "make one note stay above the rest on {dev}"),
    ),
    _pf(
        "notebooks",
        "sort-notes",
        "Sort the note list on {platform}",
        "Choose how notes are ordered on your {device} — by date updated, date created, title or size — with "
        "the sort button above the note list. Each notebook remembers its own order.",
        {
            "iOS": "Tap the arrows icon above the list; tap again to reverse the order.",
            "Android": "Tap the sort icon in the top bar of the note list.",
            "Windows": "Click a column header in list view to sort by it.",
            "Mac": "Use View > Sort by in the menu bar.",
            "Web": "Click Sort above the list; the choice follows you to other browsers.",
        },
        ("newest notes should be at the top on {dev}", "order my notes alphabetically on {dev}"),
    ),
)
