"""The triage task: a support team corrects an AI's triage of app reviews (category, urgency, topic, summary);
the project learns a classifier of the team's labels that beats the AI it corrected."""

TASK = "triage"
