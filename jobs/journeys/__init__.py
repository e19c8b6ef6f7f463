"""Journeys: ordered events per customer, sessions, journeys, stages and their summaries."""
