"""Application services: workflows around cases, drafts, reviews, jobs and the knowledge base."""
